"""Keep large body buffers in the process heap instead of mapping fresh pages per request.

glibc's ``malloc`` serves blocks above its mmap threshold with a new ``mmap`` and unmaps them
when they are freed. A proxied upload allocates several body-sized buffers (the joined body,
the stripped copy), so every multi-megabyte request would fault in and zero hundreds of fresh
pages, in the kernel, for each of them: measured here, joining a 3 MB body took 1.6-1.9 ms, of
which the copy itself is a fraction. Raising the mmap threshold above the body limit and the
trim threshold above that keeps freed buffers in the heap for the next request.

The cost is memory that stays with the process after a burst of large uploads (up to the trim
threshold, beyond it glibc returns the top of the heap). Only glibc is tuned; on other C
libraries this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

# mallopt parameters from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc caps the mmap threshold at HEAP_MAX / 2 (32 MiB on 64-bit).
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_large_buffers(max_body: int) -> bool:
    """Tune glibc so that body-sized buffers are reused rather than mapped per request.

    Args:
        max_body: the largest body the sidecar accepts, in bytes.

    Returns:
        True when glibc accepted both settings; False on another C library or if refused.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return False
    mmap_threshold = min(_MMAP_THRESHOLD_MAX, max(max_body, 1024 * 1024))
    # Freed memory above this much at the top of the heap is returned to the system: room for
    # a few body-sized buffers at once.
    trim_threshold = 4 * mmap_threshold
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
    if not ok:
        log.warning("could not tune malloc for large bodies; continuing with its defaults")
    return ok
