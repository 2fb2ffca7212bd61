"""A progress line on stderr, shown only when stderr is an interactive terminal.

Redirected or piped stderr (CI, cron, ``2>file``) gets no progress noise, only the summary.
The line holds counts and the input's display name, never record content.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Redraws one stderr line at most every ``interval`` seconds.

    Args:
        stream: where to draw (default ``sys.stderr``).
        enabled: force on/off; default: on when ``stream`` is a TTY.
        interval: minimum seconds between redraws.
    """

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool | None = None, interval: float = 0.2
    ) -> None:
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._interval = interval
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(
        self, *, records: int, name: str, done_bytes: int = 0, total_bytes: int | None = None
    ) -> None:
        """Redraw if enabled and the interval has passed."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        rate = records / max(now - self._start, 1e-9)
        if total_bytes:
            frac = min(done_bytes / total_bytes, 1.0)
            filled = int(frac * 24)
            bar = f"[{'#' * filled}{'.' * (24 - filled)}] {frac:6.1%} "
        else:
            bar = ""
        self._stream.write(f"\r{bar}{records:,} records  {rate:,.0f}/s  {name[-40:]}\x1b[K")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the line so the summary starts on a clean one."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False
