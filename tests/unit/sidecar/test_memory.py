"""malloc tuning for large bodies: applied on glibc, a no-op elsewhere."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from pipeline.sidecar import memory

# Joins and copies of about 3 MB of varying size, as a proxied upload makes; prints the
# minor page faults they took (each fresh page mapped and zeroed by the kernel is one).
_CHILD = """
import os, resource, sys
if sys.argv[1] == "tuned":
    from pipeline.sidecar.memory import keep_large_buffers
    assert keep_large_buffers(64 * 1024 * 1024)
parts = [os.urandom(200_000) for _ in range(15)]
b"".join(parts)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(30):
    joined = b"".join(parts[: 15 - i % 3])
    copied = joined[: len(joined) // 2] + joined[len(joined) // 2 :]
    del joined, copied
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    # A child process each: mallopt changes the whole process's allocator.
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True, timeout=60
    )
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_large_buffers_are_reused_instead_of_mapped_afresh() -> None:
    untuned, tuned = _faults("untuned"), _faults("tuned")
    # 60 buffers of ~3 MB: untuned, each maps ~700 fresh pages (measured ~60,000 faults);
    # tuned, they come back from the heap (measured ~1,500).
    assert untuned > 20_000
    assert tuned < untuned / 10


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert memory.keep_large_buffers(64 * 1024 * 1024) is False
