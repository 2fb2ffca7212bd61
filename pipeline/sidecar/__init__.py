"""The HTTP sidecar for upload services (DESIGN.md, "Users", way 2).

Either the upload service calls it (``POST /v1/strip``, ``POST /v1/minimize``) or it runs in
front of the service as a reverse proxy that strips metadata from uploads in flight. It calls
the same core as every other mode: :func:`pipeline.media.strip_media` and
:func:`pipeline.minimizer.minimize`.

Modules: ``settings`` (``VEIL_SIDECAR_*``), ``app`` (routes, auth, error answers, metrics),
``api`` (own endpoints), ``proxy`` (reverse proxy), ``upstream`` and ``http1`` (its HTTP/1.1
client to the upload service), ``multipart`` (strict parser and writer),
``sniff`` (routing by magic bytes), ``consent`` (header and snapshot), ``engine`` (bridge to
the core), ``body`` (size limit and deadline), ``accesslog``, ``metrics``, ``server``.
Only the stale-build check is imported here, so importing one module stays cheap.
"""

from detectors.native import verify_group as _verify_native

# Refuse a compiled (mypyc) build of the sidecar's fast-path modules that no longer matches
# its sources (detectors/native.py); it runs before any of them is imported.
_verify_native("pipeline/sidecar")
