"""The sidecar's bridge to Veil's core: media stripping and event minimization.

Handlers call this and nothing else; it turns the core's per-record errors into HTTP-shaped
errors (:mod:`pipeline.sidecar.exceptions`) and counts what happened. The stripper and the
minimizer are the library's own (:func:`pipeline.media.strip_media`,
:func:`pipeline.minimizer.minimize`); the sidecar has no stripping or minimizing logic of its
own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from pipeline.consent import Consent
from pipeline.errors import ConfigError, CorruptMedia, MediaError, UnsupportedMedia
from pipeline.media import MediaPolicy, StripResult, strip_media
from pipeline.minimizer.plan import plan_for
from pipeline.policy import Policy, load_policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.sidecar.consent import ConsentSnapshot
from pipeline.sidecar.exceptions import Corrupt, SidecarError, Unsupported
from pipeline.sidecar.metrics import SidecarMetrics
from pipeline.sidecar.settings import SidecarSettings

log = logging.getLogger(__name__)

# Bodies above this size are stripped on a worker thread so the event loop keeps serving
# other requests; below it the thread hand-off costs more than the strip.
INLINE_STRIP_BYTES: Final = 256 * 1024
MEDIA_KIND: Final = "media_upload"
_MEDIA_POLICY_CACHE: Final = 1024


def media_policy_for(policy: Policy, purpose: str, consent: Consent) -> MediaPolicy:
    """What metadata the upload service's purpose may keep in media, under ``consent``.

    The policy decides, through the minimizer's own compiled plan for ``media_upload``
    events (the same decision the stream and the replay make): GPS survives, coarsened to
    about 1 km, only when the purpose's ``location`` rule resolves to ``generalize`` or
    ``keep`` under this consent; capture dates only when ``media_metadata`` resolves to
    ``keep``.

    Raises:
        ConfigError: ``purpose`` is not in the policy (names the valid ones).
    """
    if purpose not in policy.purposes:
        names = ", ".join(sorted(policy.purposes))
        msg = f"sidecar purpose {purpose!r} is not in the policy (valid: {names})"
        raise ConfigError(msg)
    rule = plan_for(policy, MEDIA_KIND, purpose, consent).media
    return MediaPolicy(
        location="coarse" if rule.coarse_location else "drop", keep_dates=rule.keep_dates
    )


class Stripped:
    """A strip done for a request: the result and where in the request it was (read-only;
    a plain class so that mypyc compiles its constructor, one per upload)."""

    def __init__(self, result: StripResult, where: str) -> None:
        self.result: Final = result
        self.where: Final = where
        # Categories that had something removed (no tag names, no values), in the order of
        # pipeline.media.policy.CATEGORIES.
        self.categories: Final = tuple(cat for cat, tags in result.removed.items() if tags)


class Engine:
    """Everything the handlers need from the core, loaded once at start-up.

    Attributes:
        settings: the sidecar settings.
        policy: the validated policy.
        snapshot: the consent snapshot, or None when only the header is used.
        keys: pseudonym keys for ``/v1/minimize``, or None when none are configured (then
            that endpoint answers 503 and the proxy and ``/v1/strip`` still work).
        metrics: the sidecar's metrics.
    """

    def __init__(
        self,
        settings: SidecarSettings,
        *,
        policy: Policy | None = None,
        keys: PseudonymKeys | None = None,
        metrics: SidecarMetrics | None = None,
    ) -> None:
        """Load the policy, the snapshot and the keys.

        Raises:
            PolicyError: the policy is invalid.
            ConfigError: the consent file cannot be read, or the purpose is not in the policy.
        """
        self.settings = settings
        self.policy = policy if policy is not None else load_policy(settings.policy)
        self.snapshot = (
            ConsentSnapshot.load(settings.consent_file) if settings.consent_file else None
        )
        if keys is None:
            try:
                keys = PseudonymKeys.from_env()
            except ConfigError:
                log.warning("no pseudonym keys configured: /v1/minimize will answer 503")
        self.keys = keys
        self.metrics = metrics if metrics is not None else SidecarMetrics()
        # Grant sets seen so far -> media policy (users share a handful of combinations).
        self._media_policies: dict[frozenset[str], MediaPolicy] = {}
        # Validate the purpose now, not on the first upload.
        media_policy_for(self.policy, settings.purpose, Consent.none())

    def media_policy(self, consent: Consent) -> MediaPolicy:
        """The media policy of the configured purpose under ``consent`` (cached per grant set)."""
        policy = self._media_policies.get(consent.granted)
        if policy is None:
            policy = media_policy_for(self.policy, self.settings.purpose, consent)
            if len(self._media_policies) >= _MEDIA_POLICY_CACHE:
                self._media_policies.clear()
            self._media_policies[consent.granted] = policy
        return policy

    async def strip(
        self,
        data: bytes,
        consent: Consent,
        *,
        where: str,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> Stripped:
        """Strip one media body with the library's stripper: :meth:`strip_now`, on a worker
        thread for a body above INLINE_STRIP_BYTES (so the event loop keeps serving).

        Raises:
            SidecarError: as :meth:`strip_now`.
        """
        if len(data) <= INLINE_STRIP_BYTES:
            return self.strip_now(
                data, consent, where=where, content_type=content_type, filename=filename
            )
        policy = self.media_policy(consent)
        try:
            result = await asyncio.to_thread(
                strip_media, data, policy=policy, filename=filename, content_type=content_type
            )
        except Exception as exc:
            raise _strip_error(exc, where) from exc
        return self._stripped(result, where)

    def strip_now(
        self,
        data: bytes,
        consent: Consent,
        *,
        where: str,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> Stripped:
        """Strip one media body with the library's stripper, on the calling thread.

        Args:
            data: the media bytes.
            consent: the request's consent.
            where: where the body is in the request (``"body"``, ``"multipart part 2"``),
                used in error messages instead of names or values.
            content_type: the declared type, cross-checked by the stripper (a lie is refused).
            filename: the declared file name, cross-checked the same way.

        Raises:
            Unsupported: (415) a format the stripper does not support, or a declaration
                that does not match the bytes.
            Corrupt: (422) a supported format with a broken structure.
            SidecarError: (500) the stripper failed unexpectedly; nothing is forwarded.
        """
        policy = self.media_policy(consent)
        try:
            result = strip_media(data, policy=policy, filename=filename, content_type=content_type)
        except Exception as exc:
            raise _strip_error(exc, where) from exc
        return self._stripped(result, where)

    def _stripped(self, result: StripResult, where: str) -> Stripped:
        stripped = Stripped(result, where)
        self.metrics.stripped(result.media_type, stripped.categories)
        return stripped


def _strip_error(exc: Exception, where: str) -> SidecarError:
    """The answer for a stripper failure (its message names the format and the reason,
    never metadata values)."""
    if isinstance(exc, UnsupportedMedia):
        return Unsupported(f"{where}: not accepted: {exc}")
    if isinstance(exc, CorruptMedia):
        return Corrupt(f"{where}: corrupt media: {exc}")
    if isinstance(exc, MediaError):
        return Corrupt(f"{where}: media cannot be stripped ({exc.reason})")
    # Only the type is logged: a library's message might quote file content.
    log.error("stripper failed on %s: %s", where, type(exc).__name__)
    return SidecarError(f"{where}: media could not be stripped")
