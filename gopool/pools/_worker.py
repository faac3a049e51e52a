"""The worker: the one loop every pool runs, and what running one job means for a pool.

A worker takes a job, runs it, delivers what comes out, counts it, and goes
on, until the job channel is closed (and drained) or the pool is halted. The
pools differ only in what running a job means (a ``RateLimitedPool`` waits
for its limiter first, an ``executor=`` runs the job elsewhere, a
``WorkerPool`` wraps the output in a ``Result``) and in how a job is taken
(a ``DynamicPool`` worker may be told to leave): :func:`runner` and
:meth:`~gopool.pools._core.Core.taker` choose those once per worker, so the
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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..chan import Chan, select
from ..context import Context, DeadlineExceeded
from .stats import LATENCY_WINDOW

if TYPE_CHECKING:
    from ._core import Core

__all__ = ["CANCELLED", "FAILED", "QUIT", "Tagged", "WorkerState", "current", "runner", "work"]

QUIT = object()
"""What a worker's taker returns when the worker has been told to leave."""

CANCELLED = object()
"""What running a job returns when the context ended before it could start or finish."""

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
    times and durations of its last jobs. The pool's lock guards the rest:
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
        "reported",
        "since",
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
        # Its last jobs, oldest first, each as one complex: end time + duration * 1j. A
        # pair appended in one step (a reader never sees half of it), and no object the
        # garbage collector tracks.
        self.window: deque[complex] = deque(maxlen=LATENCY_WINDOW)


def work(core: Core, ws: WorkerState) -> None:
    """One worker: the article's loop, beside which it reads line for line::

        for {                                  while True:
            select {                               item, ok = take()
            case <-ctx.Done():                     (cancellation closes the job
                return                              channel and halts the pool)
            case job, ok := <-jobs:
                if !ok { return }                  if not ok: break
                result := process(job)             out = run(job)
                select {                           deliver(out): results.send(out),
                case results <- result:            or select((results.send, out),
                case <-ctx.Done(): return                    done.recv)
                }
            }
        }

    Unlike the Go loop, a job is never dropped: one taken after the
    cancellation, or whose result cannot be put because of it, is counted
    cancelled; an exception from the handler goes to the pool's failure hook
    (recorded, or put in a ``Result``) and the loop goes on.
    """
    told_to_quit = False
    try:
        current.core = core
        current.worker = ws
        take = core.taker()
        run = runner(core, ws)
        on_error = core.on_error
        deliver = _deliverer(core, ws)
        intake = core.intake
        waiting = intake.queue
        halted = core.halted.locked
        while True:
            item, ok = take()
            if not ok or item is QUIT:
                told_to_quit = ok
                break
            if waiting:
                intake.refill()  # the slot this take freed goes to the first waiting submit
            if halted():
                core.add_cancelled()
                break
            seq, job, tag = item
            failed = False
            try:
                out = run(job)
            except BaseException as exc:
                out = on_error(seq, job, exc)
                failed = True
            if out is CANCELLED:
                core.add_cancelled()
                break
            recorded = out is FAILED
            if tag is not None:
                out = Tagged(tag, out)  # an ordered map() waits for every slot, failed or not
            if out is not FAILED and not deliver(out):
                if not recorded:
                    core.add_cancelled()
                break
            # A reader may see the job leave in_flight a moment before it is counted.
            ws.job = None
            if not recorded:  # (a recorded failure was counted by on_error)
                if failed:
                    ws.failed += 1
                else:
                    ws.completed += 1
            if core.pending_quits and core.take_quit():
                told_to_quit = True
                break
    finally:
        current.core = None
        current.worker = None
        core.worker_exited(ws, told_to_quit)


def _deliverer(core: Core, ws: WorkerState) -> Callable[[Any], bool]:
    """``deliver(out)``: put ``out`` into ``results()``; False if the context ended first.

    A full ``results()`` waits for a reader or for the cancellation,
    whichever comes first, so a worker never blocks a cancelled pool.
    """
    send = core.results.send
    ctx = core.ctx
    assert ctx is not None
    done_recv = ctx.done().recv

    def deliver(out: Any) -> bool:
        try:
            # Chan has no boolean try-send: timeout=0 is its non-blocking send, and a
            # select with a default costs several sends, while results() is rarely full.
            send(out, timeout=0.0)
            return True
        except TimeoutError:
            pass
        ws.phase = "delivering"  # not stalled: waiting for a reader
        if select((send, out), done_recv)[0] != 0:
            return False
        ws.phase = "running"
        return True

    return deliver


def runner(core: Core, ws: WorkerState) -> Callable[[Any], Any]:
    """What running one job means for this pool, built once per worker.

    The handler, run in the executor if the pool has one, its output
    wrapped (``WorkerPool``), timed for the stats (unless switched off) or
    watched for stalls (``stall_after``), and preceded by the limiter's
    wait (``RateLimitedPool``). Returns ``CANCELLED`` when the context ends
    first; raises what the handler raises.
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
    if core.stalls is not None:
        run = _watched(run, ws, core.stalls.job_started)
    elif track:
        run = _timed(run, ws)
    if core.before_job is not None:
        run = _limited(run, ws, core.before_job, ctx, done_recv, track)
    return run


def _timed(run: Callable[[Any], Any], ws: WorkerState) -> Callable[[Any], Any]:
    """``run``, with the job, its start, its duration and its end kept in ``ws``."""
    monotonic = _monotonic
    window_append = ws.window.append

    def timed(job: Any) -> Any:
        since = monotonic()
        ws.since = since
        ws.phase = "running"
        ws.job = job
        try:
            return run(job)
        finally:
            end = monotonic()
            window_append(complex(end, end - since))

    return timed


def _watched(
    run: Callable[[Any], Any],
    ws: WorkerState,
    job_started: Callable[[WorkerState, Any, float], None],
) -> Callable[[Any], Any]:
    """As :func:`_timed`, the start told to the stall watch (under the pool's lock)."""
    monotonic = _monotonic
    window_append = ws.window.append

    def watched(job: Any) -> Any:
        since = monotonic()
        job_started(ws, job, since)
        try:
            return run(job)
        finally:
            end = monotonic()
            window_append(complex(end, end - since))

    return watched


def _wrapped(
    run: Callable[[Any], Any], wrap_result: Callable[[Any, Any], Any]
) -> Callable[[Any], Any]:
    def wrapped(job: Any) -> Any:
        out = run(job)
        return out if out is CANCELLED else wrap_result(job, out)

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
                return CANCELLED
            if isinstance(exc, DeadlineExceeded):
                # The limiter knows the deadline comes first: the job is
                # cancelled at the deadline, and not a moment before.
                done_recv()
                return CANCELLED
            raise
        return run(job)  # which marks the job running, and starts its clock

    return limited


def _in_executor(
    executor: Executor, process: Callable[[Any], Any], done_recv: Callable[[], Any]
) -> Callable[[Any], Any]:
    """``process(job)`` run by ``executor``: its result, its exception, or ``CANCELLED``.

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
                return CANCELLED
        return future.result()

    return in_executor
