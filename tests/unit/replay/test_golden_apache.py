"""Golden test: the shared Apache logs minimized for ``analytics`` and ``security``.

The first lines of each log in ``../shared/corpus/logs`` are replayed with a fixed pseudonym
key and compared byte for byte with the committed expectation. A change to the parser, the
policy or the detectors that alters the output shows up here as a readable diff. After a
deliberate change, regenerate with ``VEIL_UPDATE_GOLDEN=1 scripts/test tests/unit/replay``
and review the diff of the golden files before committing them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.policy import Policy
from tests.conftest import CORPUS
from tests.unit.replay.conftest import replay_files

GOLDEN = Path(__file__).parent / "golden"
LINES_PER_LOG = 150
NOW = datetime(2015, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize("purpose", ["analytics", "security"])
def test_apache_logs_match_golden(
    policy: Policy, tmp_path: Path, purpose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative input names: event ids of text lines derive from the name as given.
    monkeypatch.chdir(tmp_path)
    logs = sorted((CORPUS / "logs").glob("*.log"))
    if not logs:
        pytest.skip(f"shared corpus not found under {CORPUS} (a checkout outside /work?)")
    inputs = []
    for log in logs:
        head = log.read_bytes().splitlines(keepends=True)[:LINES_PER_LOG]
        Path(log.name).write_bytes(b"".join(head))
        inputs.append(Path(log.name))
    r = replay_files(inputs, policy, tmp_path, purpose=purpose, now=NOW)
    assert r.stats.out == LINES_PER_LOG * len(inputs)

    expected = GOLDEN / f"apache_{purpose}.jsonl"
    if os.environ.get("VEIL_UPDATE_GOLDEN") == "1":
        expected.write_text(r.out_text, encoding="utf-8")
    assert r.out_text == expected.read_text(encoding="utf-8")
