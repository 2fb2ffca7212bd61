"""The minimizer core (pure): apply the policy to one event for one purpose.

Public API: :func:`minimize`, :func:`minimize_all`, :class:`MinimizeContext`,
:class:`Minimized`.
"""

from pipeline.minimizer.core import MinimizeContext, Minimized, minimize, minimize_all

__all__ = ["MinimizeContext", "Minimized", "minimize", "minimize_all"]
