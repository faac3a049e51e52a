"""What ``pool.stats()`` returns: a frozen snapshot of a pool and of each of its workers.

Invariants: a :class:`PoolStats` is taken under the pool's lock in one
piece, so its counts agree with each other at that instant (once the pool
is closed, ``completed + failed + cancelled == submitted``); it is frozen,
so a snapshot handed to another thread cannot change under it. Nothing here
holds a reference to a job: a worker's job is kept as its (truncated)
``repr``.

The pools keep the raw material (counts, the recent job durations and end
times, each worker's current job) in :mod:`gopool.pools._core` and in each
worker's state; :func:`summarize` turns it into figures, outside the pool's
lock.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LATENCY_WINDOW", "RATE_WINDOW", "PoolStats", "WorkerStats", "summarize"]

LATENCY_WINDOW = 1024
"""How many of the most recent job durations the latency percentiles are taken over."""

RATE_WINDOW = 5.0
"""The span, in seconds, that ``throughput`` is measured over (the last few seconds)."""


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker thread of a pool, as :meth:`PoolBase.stats` saw it.

    ``id`` numbers the pool's workers 1, 2, ... in the order they started
    (a worker that leaves keeps its number; a new one gets the next);
    ``name`` is its thread's name. ``job`` is the ``repr`` (truncated to
    about 60 characters) of the job it is running, or None when idle;
    ``busy_for`` how long, in seconds, it has been on that job (0.0 when
    idle); ``quiet_for`` how long since the job started or since its last
    :func:`~gopool.pools.heartbeat`, whichever came later (0.0 when idle);
    ``stalled`` whether ``quiet_for`` has reached the pool's
    ``stall_after`` (always False when the pool has none).

    ``state`` sums it up: ``"idle"``; ``"running"`` its job;
    ``"stalled"`` (running, and stalled); ``"waiting"`` for its turn to
    start the job it holds (a ``RateLimitedPool``'s limiter; ``busy_for``
    counts that wait, ``quiet_for`` is 0.0); ``"delivering"``: the job is
    done and its result waits for room in a full ``results()`` (no stall:
    the pool waits for its reader).
    """

    id: int
    name: str
    job: str | None
    busy_for: float
    quiet_for: float
    stalled: bool
    state: str


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A consistent snapshot of a pool (what :meth:`PoolBase.stats` returns).

    Counts, all taken at one instant under the pool's lock:

    * ``submitted``: jobs accepted so far, exact at every moment: a job
      counts from the instant it enters the job buffer (or, unbuffered, a
      worker's hands), so a ``submit`` still waiting for room is not
      counted, and one that the pool then refuses never is;
    * ``queued``: jobs waiting in the job buffer;
    * ``in_flight``: jobs a worker has taken and not finished;
    * ``completed``: jobs whose handler returned (for ``WorkerPool``: whose
      ``Result`` has no error);
    * ``failed``: jobs whose handler raised (recorded for ``close()`` to
      raise, or put in a ``Result`` by ``WorkerPool``);
    * ``cancelled``: jobs that never delivered because the context ended
      (the pool's :attr:`~PoolBase.cancelled`).

    Always ``submitted == queued + in_flight + completed + failed +
    cancelled`` but for a job a worker is just taking or just finishing
    (it leaves ``queued`` a moment before it shows in ``in_flight``, and
    ``in_flight`` a moment before it is counted, never counted twice); once
    the pool is closed, ``completed + failed + cancelled == submitted``.

    ``pool`` is the pool's class name, ``state`` one of ``"new"``,
    ``"running"``, ``"closing"``, ``"closed"``, ``"cancelled"``;
    ``workers`` the workers running (for a ``DynamicPool``, leavers
    excluded), ``per_worker`` every worker thread still alive;
    ``blocked_submits`` the ``submit`` calls (and ``map()``'s feeder)
    waiting for room in a full job buffer, whose jobs are not accepted yet;
    ``throughput`` the jobs finished per second over the last
    :data:`RATE_WINDOW` seconds (or since the pool started, if later);
    ``latency_p50``, ``latency_p95``, ``latency_p99`` percentiles of the
    durations of the last :data:`LATENCY_WINDOW` jobs, in seconds (None
    before the first job finishes); ``stall_after`` the pool's setting;
    ``elapsed`` the seconds since the pool started (0.0 if not started).
    """

    pool: str
    state: str
    submitted: int
    queued: int
    in_flight: int
    completed: int
    failed: int
    cancelled: int
    workers: int
    throughput: float
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    per_worker: tuple[WorkerStats, ...]
    stall_after: float | None
    elapsed: float
    blocked_submits: int = 0

    @property
    def finished(self) -> int:
        """``completed + failed + cancelled``: the jobs that will never run again."""
        return self.completed + self.failed + self.cancelled

    @property
    def busy(self) -> int:
        """How many workers are on a job."""
        return sum(1 for w in self.per_worker if w.job is not None)

    @property
    def stalled(self) -> int:
        """How many workers are stalled."""
        return sum(1 for w in self.per_worker if w.stalled)


def percentiles(
    durations: Iterable[float], ps: Sequence[float]
) -> tuple[float | None, ...]:
    """The nearest-rank percentiles ``ps`` (0-100) of ``durations``; Nones if it is empty."""
    ordered = sorted(durations)
    n = len(ordered)
    if n == 0:
        return tuple(None for _ in ps)
    return tuple(ordered[max(0, min(n - 1, math.ceil(p / 100 * n) - 1))] for p in ps)


def throughput(end_times: Sequence[float], now: float, since: float, full: bool) -> float:
    """Jobs per second, from the end times of the most recent jobs (oldest first).

    Measured over the last :data:`RATE_WINDOW` seconds, or since ``since``
    (the pool's start) if that is later. If the window of end times is
    ``full`` and its oldest entry falls inside that span, the jobs before
    it are unknown, so the rate is taken over the span the entries cover.
    """
    span = min(RATE_WINDOW, now - since)
    if span <= 0 or not end_times:
        return 0.0
    start = now - span
    if full and end_times[0] > start:
        covered = now - end_times[0]
        return len(end_times) / covered if covered > 0 else 0.0
    n = 0
    for t in reversed(end_times):
        if t <= start:
            break
        n += 1
    return n / span


_Worker = tuple[int, str, Any, float, str, float]
"""A worker as read under the pool's lock: id, name, job, since, phase, last heartbeat."""


def summarize(
    pool: str,
    state: str,
    counts: tuple[int, int, int, int, int, int, int],
    workers: Sequence[_Worker],
    windows: Sequence[Sequence[tuple[float, float]]],
    *,
    now: float,
    started_at: float,
    stall_after: float | None,
    repr_job: Callable[[Any], str],
) -> PoolStats:
    """The :class:`PoolStats` of raw material read under a pool's lock.

    ``counts`` are submitted, queued, completed, failed, cancelled, workers
    and blocked submits; ``windows`` the last jobs of each worker (and of
    those that have left), each oldest first, each job an ``(end time,
    duration)``. Latency and throughput are taken over the last
    :data:`LATENCY_WINDOW` of them all.
    """
    submitted, queued, completed, failed, cancelled, live, blocked = counts
    per_worker = []
    in_flight = 0
    for wid, name, job, since, phase, beat in workers:
        if job is None:
            per_worker.append(WorkerStats(wid, name, None, 0.0, 0.0, False, "idle"))
            continue
        in_flight += 1
        quiet = now - max(since, beat) if phase == "running" else 0.0
        stalled = stall_after is not None and quiet >= stall_after
        state_of = "stalled" if stalled else phase
        per_worker.append(
            WorkerStats(wid, name, repr_job(job), now - since, quiet, stalled, state_of)
        )
    newest_first = heapq.merge(*(reversed(w) for w in windows), reverse=True)
    last = list(itertools.islice(newest_first, LATENCY_WINDOW))
    last.reverse()
    p50, p95, p99 = percentiles((duration for _, duration in last), (50, 95, 99))
    full = len(last) == LATENCY_WINDOW
    return PoolStats(
        pool=pool,
        state=state,
        submitted=submitted,
        queued=queued,
        in_flight=in_flight,
        completed=completed,
        failed=failed,
        cancelled=cancelled,
        workers=live,
        throughput=throughput([end for end, _ in last], now, started_at, full),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
        per_worker=tuple(per_worker),
        stall_after=stall_after,
        elapsed=now - started_at,
        blocked_submits=blocked,
    )
