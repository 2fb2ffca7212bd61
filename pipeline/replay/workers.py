"""Minimizing chunks of records on several cores, in input order, with bounded memory.

``multiprocessing.Pool.imap`` would preserve order but its feeder thread drains the input
iterator as fast as it can, which for a multi-gigabyte log means holding it all in memory.
Instead at most ``2 * workers`` chunks are in flight; results are yielded in submission
order, so the output file has the input order whatever the worker count.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.pool import AsyncResult

from pipeline.replay.runner import ChunkResult, Item, ReplayJob, process_chunk

_JOB: ReplayJob | None = None  # set once per worker process by the pool initializer


def _init(job: ReplayJob) -> None:
    global _JOB  # per-process state: what a pool initializer is for
    _JOB = job


def _work(items: list[Item]) -> ChunkResult:
    if _JOB is None:  # pragma: no cover - the initializer always runs first
        msg = "replay worker used before its initializer ran"
        raise RuntimeError(msg)
    return process_chunk(items, _JOB)


def _context() -> multiprocessing.context.BaseContext:
    # fork shares the already-compiled detector database copy-on-write and starts in
    # milliseconds; where it does not exist (macOS, Windows), spawn re-imports.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def map_chunks(
    chunks: Iterable[list[Item]], job: ReplayJob, *, workers: int
) -> Iterator[ChunkResult]:
    """Process each chunk with :func:`process_chunk`, yielding results in input order.

    ``workers <= 1`` runs in this process (no pool). The pool is torn down when the
    iterator is exhausted or closed.
    """
    if workers <= 1:
        for chunk in chunks:
            yield process_chunk(chunk, job)
        return
    window = 2 * workers
    with _context().Pool(workers, initializer=_init, initargs=(job,)) as pool:
        pending: deque[AsyncResult[ChunkResult]] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_work, (chunk,)))
            if len(pending) >= window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
