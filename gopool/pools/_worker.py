"""The worker: the one loop every pool runs, and what running one job means for a pool.

A worker takes a job, runs it, delivers what comes out, counts it, and goes
on, until the job channel is closed (and drained) or the pool is halted. The
pools differ only in what running a job means (a ``RateLimitedPool`` waits
for its limiter first, an ``executor=`` runs the job elsewhere, a
``WorkerPool`` wraps the output in a ``Result``) and in how a job is taken
(a ``DynamicPool`` worker may be told to leave): :func:`runner` and
:func:`_taker` choose those once per worker, so the
loop itself is the same for every pool and steers by no mode flag.

Invariants:

* Every job a worker takes is counted exactly once, by the worker itself:
  ``completed`` or ``failed`` in its own :class:`WorkerState` once its
  result is in ``results()``, ``failed`` in the pool (under its lock) once
  its exception is recorded, or ``cancelled`` in the pool when the context
  ends before it could start or before its result could be put.
* A :class:`WorkerState` is written only by its worker, without a lock: its
  counts, its current job, and the durations and end times of its last
  jobs. Readers (``stats()``, the stall check) read it under the pool's
  lock and add it up; a count is a single int, so a reader never sees it
  torn, and it only grows. The worker touches no object shared with the
  other workers per job but the two channels (and, while a submit waits for
  room, the pool's lock, see :mod:`gopool.pools._intake`).
* A worker thread holds the pool's core, never the pool object, so a pool
  that nobody references is collected (see :mod:`gopool.pools._registry`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..chan import Chan, select
from ..context import Context, DeadlineExceeded
from ._intake import offer
from .stats import LATENCY_WINDOW

if TYPE_CHECKING:
    from ._core import Core

__all__ = ["FAILED", "Tagged", "WorkerState", "current", "last_jobs", "runner", "work"]


class _Cancelled(Exception):
    """Raised by running a job when the context ended before it could start or finish."""


FAILED = object()
"""What a pool's failure hook returns once it has recorded the exception: nothing to deliver."""

current = threading.local()
"""Per thread: ``core``, the pool a thread works for (its workers, its ``map()`` feeder, its
halting goroutine); ``worker``, a worker's :class:`WorkerState` (for ``heartbeat()``)."""

_monotonic = time.monotonic


class Tagged:
    """A result of ``map(ordered=True)``: its input position travels with it."""

    __slots__ = ("index", "value")

    def __init__(self, index: int, value: Any) -> None:
        self.index = index
        self.value = value


class WorkerState:
    """One worker thread's share of the pool's figures, written by that worker alone.

    ``job`` is the job it holds (None when idle); ``since`` when that job
    started running (or, while ``phase`` is ``"waiting"``, when it was
    taken); ``phase`` is ``"running"``, ``"waiting"`` (for the pool's
    limiter) or ``"delivering"`` (the job is done, its result waits for
    room in a full ``results()``). The worker writes ``since`` before
    ``job``, one field at a time, so a reader other than the stall check
    (which sees them written under the lock) may for a moment pair a job
    with the start of the one before it: they are for display. ``completed``
    and ``failed`` count the results it has put (``failed``: a
    ``WorkerPool`` result carrying an exception); ``window`` holds the end
    times and durations of its last jobs (see :func:`last_jobs`).
    ``submits_wait`` (a submit waits for room) and ``quits_pending`` (a
    worker must leave) are raised and lowered under the pool's lock, and
    read by the worker without it, after each take and each job: so the hot
    path reads only its own state. The pool's lock guards the rest:
    ``id`` and ``name`` (set once), ``beat`` (the last heartbeat, 0.0 if
    none) and ``reported`` (the stall clock last reported stalled).
    """

    __slots__ = (
        "beat",
        "completed",
        "failed",
        "id",
        "job",
        "name",
        "phase",
        "quits_pending",
        "reported",
        "since",
        "submits_wait",
        "window",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.id = 0
        self.job: Any = None
        self.since = 0.0
        self.phase = "running"
        self.beat = 0.0
        self.reported = -1.0
        self.completed = 0
        self.failed = 0
        self.submits_wait = False
        self.quits_pending = False
        # Its last jobs (from LATENCY_WINDOW to twice that), oldest first, as flat
        # pairs: end time, duration. A list: a reader's slice of it is one step on every
        # build (copying a deque that grows meanwhile can fail), and floats are nothing
        # the garbage collector tracks.
        self.window: list[float] = []


def last_jobs(ws: WorkerState) -> list[tuple[float, float]]:
    """The end time and duration of each of ``ws``'s last jobs, oldest first; from any thread.

    One slice of the window, taken while its worker may append: a pair it
    has half written (an odd length) is left out.
    """
    flat = ws.window[:]  # whole pairs from index 0 (trimmed between jobs), but maybe the last
    if len(flat) % 2:
        del flat[-1]
    flat = flat[-2 * LATENCY_WINDOW :]
    return list(zip(flat[0::2], flat[1::2], strict=True))


def work(core: Core) -> None:
    """One worker: the article's loop, beside which it reads line for line::

        for {                                  while True:
            select {                               item, ok = take()
            case <-ctx.Done():                     (cancellation closes the job
                return                              channel and halts the pool)
            case job, ok := <-jobs:
                if !ok { return }                  if not ok: break
                result := process(job)             out = run(job)
                select {                           results.send(out), or when full
                case results <- result:            select((results.send, out),
                case <-ctx.Done(): return                 done.recv)
                }
            }
        }

    Unlike the Go loop, a job is never dropped: one taken after the
    cancellation, or whose result cannot be put because of it, is counted
    cancelled; an exception from the handler goes to the pool's failure hook
    (recorded, or put in a ``Result``) and the loop goes on.
    """
    ws = WorkerState(threading.current_thread().name)
    core.worker_started(ws)
    told_to_quit = False
    try:
        current.core = core
        current.worker = ws
        take = _taker(core, ws)
        # The common case of per-job stats (no limiter, no stall watch) is
        # timed here rather than by a wrapper: one frame less per job.
        inline = core.track_jobs and core.stalls is None and core.before_job is None
        run = runner(core, ws, timed=not inline)
        send = core.results.send
        wait_to_deliver = _wait_to_deliver(core, ws)
        failure = _failure(core, ws, wait_to_deliver)
        halted = core.halted.locked
        monotonic = _monotonic
        window = ws.window
        window_append = window.append
        since = 0.0
        while True:
            item, ok = take()
            if item is None:  # drained (not ok), or told to leave (ok)
                told_to_quit = ok
                break
            if ws.submits_wait:
                core.refill_for(ws)  # the slot this take freed goes to a waiting submit
            if halted():
                core.add_cancelled()
                # The cancellation marked the pool; its halt may not have run
                # yet. Run it here (it is idempotent), so the jobs still queued
                # are counted cancelled before this worker is seen to stop.
                core.halt()
                break
            seq, job, tag = item
            if inline:
                since = monotonic()
                ws.since = since
                ws.job = job
            try:
                out = run(job)
            except BaseException as exc:
                if inline:
                    _record(window, since)
                if not failure(seq, job, tag, exc):
                    break
            else:
                if inline:  # _record(window, since), inline: once per job
                    end = monotonic()
                    window_append(end)
                    window_append(end - since)
                    if len(window) >= _WINDOW_FULL:
                        del window[:-_WINDOW_KEEP]
                if tag is not None:
                    out = Tagged(tag, out)  # an ordered map() waits for it in its slot
                try:
                    send(out, timeout=0.0)  # offer(), inline: once per job
                except TimeoutError:
                    if not wait_to_deliver(out):
                        core.add_cancelled()
                        break
                # A reader may see the job leave in_flight a moment before it is counted.
                ws.job = None
                ws.completed += 1
            if ws.quits_pending and core.quit_for(ws):
                told_to_quit = True
                break
    finally:
        current.core = None
        current.worker = None
        core.worker_exited(ws, told_to_quit)


def _failure(
    core: Core, ws: WorkerState, wait_to_deliver: Callable[[Any], bool]
) -> Callable[[int, Any, int | None, BaseException], bool]:
    """``failure(seq, job, tag, exc)``: a job that raised; False if the worker must leave.

    A cancellation (the job could not start or finish) is counted
    cancelled. Otherwise the pool's failure hook records the exception
    (counted failed at once) or wraps it in a result to put (counted failed
    once put, cancelled if the context ends first); an ordered ``map()``
    still gets the job's slot.
    """
    send, on_error = core.results.send, core.on_error

    def failure(seq: int, job: Any, tag: int | None, exc: BaseException) -> bool:
        if isinstance(exc, _Cancelled):
            core.add_cancelled()
            return False
        out = on_error(seq, job, exc)
        recorded = out is FAILED
        if tag is not None:
            out = Tagged(tag, out)
        if out is not FAILED and not (offer(send, out) or wait_to_deliver(out)):
            if not recorded:
                core.add_cancelled()
            return False
        ws.job = None
        if not recorded:
            ws.failed += 1
        return True

    return failure


def _taker(core: Core, ws: WorkerState) -> Callable[[], tuple[Any, bool]]:
    """A worker's next-job step: ``(item, True)``, ``(None, False)`` once drained, or
    ``(None, True)`` once told to leave. A plain receive, unless the pool has a signal."""
    if core.signal is None:
        return core.jobs.recv_ok
    jobs_recv_ok, signal_recv = core.jobs.recv_ok, core.signal.recv

    def take() -> tuple[Any, bool]:
        while True:
            if ws.quits_pending or ws.submits_wait:
                got = core.take_for(ws)  # leave, or a waiting job of an unbuffered pool
                if got is not None:
                    return got
            index, got = select(jobs_recv_ok, signal_recv)
            if index == 0:
                return got  # type: ignore[no-any-return]
            # A signal: whoever sent it raised the flag first; or a stale one.

    return take


def _wait_to_deliver(core: Core, ws: WorkerState) -> Callable[[Any], bool]:
    """Put ``out`` into a full ``results()``: True once put, False if the context ended first.

    A worker waits for a reader or for the cancellation, whichever comes
    first, so it never blocks a cancelled pool.
    """
    send = core.results.send
    ctx = core.ctx
    assert ctx is not None
    done_recv = ctx.done().recv

    def wait_to_deliver(out: Any) -> bool:
        ws.phase = "delivering"  # not stalled: waiting for a reader
        if select((send, out), done_recv)[0] != 0:
            return False
        ws.phase = "running"
        return True

    return wait_to_deliver


def runner(core: Core, ws: WorkerState, timed: bool = True) -> Callable[[Any], Any]:
    """What running one job means for this pool, built once per worker.

    The handler, run in the executor if the pool has one, its output
    wrapped (``WorkerPool``), timed for the stats (unless switched off, or
    ``timed`` is False: the caller times it) or watched for stalls
    (``stall_after``), and preceded by the limiter's wait
    (``RateLimitedPool``). Raises :class:`_Cancelled` when the context ends
    first, and what the handler raises.
    """
    ctx = core.ctx
    assert ctx is not None
    done_recv = ctx.done().recv
    run: Callable[[Any], Any] = core.process
    if core.executor is not None:
        run = _in_executor(core.executor, run, done_recv)
    wrap_result = core.wrap_result
    if wrap_result is not None:
        run = _wrapped(run, wrap_result)
    track = core.track_jobs or core.stalls is not None
    if track and timed:
        run = _timed(run, ws, None if core.stalls is None else core.stalls.job_started)
    if core.before_job is not None:
        run = _limited(run, ws, core.before_job, ctx, done_recv, track)
    return run


def _timed(
    run: Callable[[Any], Any],
    ws: WorkerState,
    watch: Callable[[WorkerState, Any, float], None] | None,
) -> Callable[[Any], Any]:
    """``run``, with the job, its start, its end and its duration kept in ``ws``.

    With a stall ``watch``, the start is told to it instead (it writes the
    job and its start under the pool's lock, for its check).
    """
    monotonic = _monotonic
    window = ws.window

    def timed(job: Any) -> Any:
        since = monotonic()
        if watch is None:
            ws.since = since
            ws.phase = "running"
            ws.job = job
        else:
            watch(ws, job, since)
        try:
            return run(job)
        finally:
            _record(window, since)

    return timed


_WINDOW_FULL = 4 * LATENCY_WINDOW
"""Floats in a worker's window (pairs: end, duration) at which it is cut back..."""
_WINDOW_KEEP = 2 * LATENCY_WINDOW
"""...to the last LATENCY_WINDOW pairs: so it always holds between one and two windows' worth."""


def _record(window: list[float], since: float) -> None:
    """Keep the end time and duration of a job that started at ``since`` in ``window``."""
    end = _monotonic()
    window.append(end)
    window.append(end - since)
    if len(window) >= _WINDOW_FULL:
        del window[:-_WINDOW_KEEP]


def _wrapped(
    run: Callable[[Any], Any], wrap_result: Callable[[Any, Any], Any]
) -> Callable[[Any], Any]:
    def wrapped(job: Any) -> Any:
        return wrap_result(job, run(job))

    return wrapped


def _limited(
    run: Callable[[Any], Any],
    ws: WorkerState,
    before_job: Callable[[Context], object],
    ctx: Context,
    done_recv: Callable[[], Any],
    track: bool,
) -> Callable[[Any], Any]:
    """``run`` once the pre-job wait (the limiter) lets the job start; the wait is not its time."""

    def limited(job: Any) -> Any:
        if track:
            ws.phase = "waiting"
            ws.since = _monotonic()
            ws.job = job
        try:
            before_job(ctx)
        except BaseException as exc:
            if ctx.err() is not None:
                raise _Cancelled from exc
            if isinstance(exc, DeadlineExceeded):
                # The limiter knows the deadline comes first: the job is
                # cancelled at the deadline, and not a moment before.
                done_recv()
                raise _Cancelled from exc
            raise
        return run(job)  # which marks the job running, and starts its clock

    return limited


def _in_executor(
    executor: Executor, process: Callable[[Any], Any], done_recv: Callable[[], Any]
) -> Callable[[Any], Any]:
    """``process(job)`` run by ``executor``: its result, its exception, or :class:`_Cancelled`.

    The worker waits for the future or for the end of the context, whichever
    comes first (the future's done-callback closes a channel it selects on:
    no polling). When the context ends first, the future is cancelled; if
    the executor has already started it, it cannot be stopped: the executor
    finishes it, its result is dropped, and the job counts as cancelled.
    """

    def in_executor(job: Any) -> Any:
        future = executor.submit(process, job)
        finished: Chan[None] = Chan()
        future.add_done_callback(lambda _: finished.close())
        if select(finished.recv, done_recv)[0] != 0:
            future.cancel()
            if future.cancelled() or not future.done():
                raise _Cancelled
        return future.result()

    return in_executor
