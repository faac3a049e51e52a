"""Stalls and heartbeats: a worker stuck on one job, found by one timer per pool.

With ``stall_after``, a worker running one job that long without a
:func:`heartbeat` is stalled; each stall is reported once, to the pool's
``on_stall`` or as a logging warning.

Invariants (under the pool's lock, which :class:`StallWatch` shares):

* ``handle`` is the one stall check a pool has scheduled, or None. It is
  armed, if none is, when a job starts running or a heartbeat comes; any
  check already scheduled is due no later than one armed later would be
  (every stall clock it watches started earlier), so one is enough. When
  it fires it reports every stall not yet reported and re-arms for the
  earliest deadline left, if any. With no job running nothing is scheduled:
  nothing polls.
* A stall is a job running since its start or its last heartbeat, whichever
  is later (its *stall clock*); a worker's ``reported`` is the stall clock
  last reported, so each stall is reported once, and a heartbeat or a new
  job starts a new clock.
* The check runs on the timer scheduler thread, so it only looks: reports
  (reprs, logging, the user's callback) run in a goroutine of their own.

Lock order: the pool's lock before the timer scheduler's (a check is armed
under it).
"""

from __future__ import annotations

import logging
import math
import reprlib
import threading
import time
from collections.abc import Callable
from typing import Any

from .._checks import check_number
from ..timers import TimerHandle, schedule
from ..timers import after_func as timer_after_func
from ._worker import WorkerState, current
from .stats import WorkerStats

__all__ = ["StallWatch", "check_stall_after", "heartbeat", "repr_job"]

_logger = logging.getLogger("gopool")

_monotonic = time.monotonic

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


def repr_job(job: Any) -> str:
    """A job's ``repr`` for the stats, truncated; never raises (a broken ``__repr__`` says so)."""
    try:
        return _repr.repr(job)
    except Exception as exc:
        return f"<{type(job).__name__}: repr failed: {type(exc).__name__}>"


def check_stall_after(stall_after: object, what: str) -> float | None:
    """``stall_after`` as seconds, or None; TypeError or ValueError naming ``what``."""
    if stall_after is None:
        return None
    seconds = check_number(stall_after, f"{what}: stall_after", "a number of seconds or None")
    if seconds <= 0:
        raise ValueError(f"{what}: stall_after must be > 0 seconds, not {stall_after!r}")
    return seconds


class StallWatch:
    """The stall check of one pool: its one scheduled timer and its reports."""

    __slots__ = ("_states", "handle", "lock", "name", "on_stall", "stall_after")

    def __init__(
        self,
        name: str,
        lock: threading.Lock,
        states: list[WorkerState],
        stall_after: float,
        on_stall: Callable[[WorkerStats], object] | None,
    ) -> None:
        self.name = name
        self.lock = lock
        self._states = states  # the pool's live workers, changed under lock by the pool
        self.stall_after = stall_after
        self.on_stall = on_stall
        self.handle: TimerHandle | None = None

    def job_started(self, ws: WorkerState, job: Any, since: float) -> None:
        """Worker ``ws`` starts running ``job`` at ``since``: watch it (called by that worker)."""
        with self.lock:
            ws.since = since
            ws.phase = "running"
            ws.job = job
            self._arm_locked(since)

    def beat(self, ws: WorkerState) -> bool:
        """A heartbeat from worker ``ws``'s job; False if it runs none (nothing counted)."""
        now = _monotonic()
        with self.lock:
            if ws.job is None or ws.phase != "running":
                return False
            ws.beat = now
            self._arm_locked(now)
        return True

    def cancel_locked(self) -> None:
        """No worker left: nothing to watch any more."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _arm_locked(self, clock: float) -> None:
        if self.handle is None:
            self.handle = schedule(clock + self.stall_after, self._check)

    def _check(self) -> None:
        """The stall check (on the timer scheduler thread): find new stalls, re-arm, report."""
        stall_after = self.stall_after
        now = _monotonic()
        found: list[tuple[int, str, Any, float, float]] = []
        with self.lock:
            self.handle = None
            due = math.inf
            for ws in self._states:
                job, since = ws.job, ws.since
                if job is None or ws.phase != "running":
                    continue
                clock = max(since, ws.beat)
                if ws.reported == clock:
                    continue  # this stall was reported; a heartbeat or a new job re-arms
                if clock + stall_after <= now:
                    ws.reported = clock
                    found.append((ws.id, ws.name, job, now - since, now - clock))
                else:
                    due = min(due, clock + stall_after)
            if due != math.inf:
                self.handle = schedule(due, self._check)
        if found:
            # The scheduler thread must stay quick: reprs, logging and the
            # user's callback run in a goroutine of their own.
            timer_after_func(0, lambda: self._report(found))

    def _report(self, found: list[tuple[int, str, Any, float, float]]) -> None:
        """Tell the user about each stall: ``on_stall(WorkerStats)``, else a logging warning.

        An exception from ``on_stall`` is logged (ERROR, logger ``gopool``)
        and the other reports go on.
        """
        for wid, name, job, busy, quiet in found:
            worker = WorkerStats(wid, name, repr_job(job), busy, quiet, True, "stalled")
            if self.on_stall is not None:
                try:
                    self.on_stall(worker)
                except Exception:
                    _logger.exception("%s: on_stall(%r) raised", self.name, worker)
            else:
                _logger.warning(
                    "%s: worker %d (%s) stalled: on job %s for %.1f s, %.1f s without a "
                    "heartbeat (stall_after=%g s)",
                    self.name,
                    wid,
                    name,
                    worker.job,
                    busy,
                    quiet,
                    self.stall_after,
                )


def heartbeat() -> bool:
    """Tell the pool that the job running in this thread is alive: reset its stall clock.

    Call it now and then inside a long job of a pool with ``stall_after``:
    the worker is reported stalled only after ``stall_after`` seconds
    without a heartbeat (or, without any, since the job started), and a
    worker reported stalled that beats again is no longer stalled (a later
    silence is a new stall, reported again). Returns True if the calling
    thread is a pool's worker running a job (the heartbeat counted), False
    anywhere else, where it does nothing: outside a pool, and in a job a
    pool hands to an ``executor=`` (it runs in the executor's thread or
    process, not the worker's). Never blocks beyond a short critical
    section; cheap enough to call every few milliseconds.
    """
    ws: WorkerState | None = getattr(current, "worker", None)
    core = getattr(current, "core", None)
    if ws is None or core is None:
        return False
    watch: StallWatch | None = core.stalls
    if watch is None:
        with core.lock:
            # No stall watch: the beat is kept for the stats all the same.
            if ws.job is None or ws.phase != "running":
                return False
            ws.beat = _monotonic()
        return True
    return watch.beat(ws)
