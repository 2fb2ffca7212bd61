"""Veil's running system: minimizer core, policy, replay, media stripping, streaming, sidecar."""

__version__ = "0.1.0"
