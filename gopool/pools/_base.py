"""The one worker loop and the one lifecycle that every pool of the article shares.

The article's pools differ in three places only, and so do ours: what goes
out for a job (``WorkerPool`` wraps it in a ``Result``, errors included),
what a worker waits for before a job (``RateLimitedPool``: its limiter),
and whether a worker can be told to leave (``DynamicPool``). Those are the
hooks of :class:`_Core`; the loop (:func:`_work`), the accounting, shutdown,
cancellation and ``map()`` are written once, here.

Invariants (each holds whenever ``_Core.lock`` is free):

* Accounting. A job is *accepted* once it is in the job channel. Every
  accepted job leaves that channel exactly once, taken by a worker or by the
  drain of a halted pool, and whoever takes it counts it exactly once:
  ``delivered`` (its result was put into ``results()``), ``failed`` (its
  exception was recorded) or ``cancelled``. So once the channel is closed
  and drained and every worker has stopped, ``delivered + failed +
  cancelled`` is the number of jobs accepted.
* Shutdown. The job channel is closed once, by ``close()`` (graceful: the
  workers drain it) or by the halt (cancellation: no job starts after it,
  what is left is counted cancelled); ``jobs_closed`` records it. The halt
  sets ``halted`` before it closes the channel, so a worker that takes a job
  after the halt sees the flag and does not start it.
* ``results()`` is closed once, by whoever first sees the job channel
  closed and no worker thread left: the last worker out, the halt, or
  ``close()``. So a consumer iterating ``results()`` always ends.
* ``threads == workers + pending_quits``, where ``threads`` counts the
  worker threads still taking jobs (from the moment they are reserved, a
  little before their thread starts): a thread is either a worker or one
  told to leave (``DynamicPool.remove_worker``) finishing its job. Every
  removal is served by exactly one thread leaving (:meth:`_Core.take_quit_locked`):
  the first worker to finish a job or to receive a quit token while
  ``pending_quits > 0``; it stops counting in ``threads`` at that moment.
* Worker threads (and ``map()``'s feeder) hold the ``_Core``, never the
  pool object, so a pool that nobody references is collected; its
  finalizer warns about the jobs that will never run, cancels them, and the
  workers stop.

* Executors. With ``executor=``, a worker still takes, accounts and
  delivers every job itself; only ``process(job)`` runs in the executor,
  and the worker waits for that future or the context's end, whichever
  comes first. So ``workers`` bounds the futures in flight, and a future
  abandoned at the cancellation counts its job cancelled. The pool never
  shuts the executor down.
* Stats. ``stats()`` reports the counts above, taken under ``lock``, so
  they stay exact. Each worker thread has a :class:`_WorkerState`, listed
  in ``worker_states`` from its first moment to its exit. Its ``job``,
  ``since`` and ``phase`` are written only by that worker (under ``lock``
  in a pool with ``stall_after``, whose stall check must see them
  together) and read by others under ``lock``; its other fields are
  guarded by ``lock``. A finished job's duration and end time go into two
  bounded deques in the critical section that counts it. So the hot path
  takes no lock it did not already take (but for a pool with
  ``stall_after``), and allocates nothing the garbage collector tracks.
* Stalls. With ``stall_after``, ``stall_handle`` (guarded by ``lock``) is
  the one stall check a pool has scheduled, or None: armed, if none is,
  when a job starts running or a heartbeat comes; when it fires it reports
  every stall not yet reported (once per stall: a stall is a job running
  since its start or its last heartbeat), and re-arms for the earliest
  deadline left, if any. Nothing polls: with no job running, nothing is
  scheduled. It runs on the timer scheduler thread, so it only looks; the
  reports (logging, the user's callback) run in a goroutine.

Lock order: ``_Core.lock`` before a channel's or a context's lock, never the
reverse; and before the timer scheduler's lock (a stall check is armed
under it). It is never held while blocking or while running user code. A
garbage collection can run a pool's finalizer in any thread, in the middle
of any allocation: in a thread of the pool's own (which may hold these
locks) the finalizer hands its work to a new goroutine instead.
"""

from __future__ import annotations

import logging
import math
import pickle
import reprlib
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from ..chan import Chan, ClosedChannelError, RecvChan, go, select
from ..context import Canceled, Context, DeadlineExceeded, after_func, background, with_cancel
from ..sync import WaitGroup
from ..timers import TimerHandle, schedule
from ..timers import after_func as timer_after_func
from .stats import LATENCY_WINDOW, PoolStats, WorkerStats, percentiles, throughput

__all__ = ["default_buffer", "heartbeat"]

T = TypeVar("T")
R = TypeVar("R")

_QUIT = object()
"""What a DynamicPool worker's next-job step returns when it has been told to leave."""

_ABANDONED = object()
"""What running a job in an executor returns when the context ended before its result."""

_FAILED = object()
"""An ordered ``map()`` slot whose job failed: yields nothing, but keeps the order moving."""

_internal = threading.local()
"""``_internal.core``: the pool a thread works for (its workers, a ``map()`` feeder);
``_internal.worker``: a worker's :class:`_WorkerState` (for :func:`heartbeat`)."""

_logger = logging.getLogger("gopool")

_monotonic = time.monotonic

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60


def default_buffer(workers: int) -> int:
    """The job (and result) buffer a pool gets when ``buffer=None``.

    At least the article's ``workers * 2``, and never below 1024: with a
    small buffer nearly every job parks and wakes a thread, which costs more
    than a trivial job itself (see ``benchmarks/bench_pools.py``).
    """
    return max(workers * 2, 1024)


def check_count(value: object, what: str, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``; TypeError or ValueError naming ``what``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, not {value}")
    return value


def check_callable(fn: object, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what} must be callable, not {fn!r}")


class _Tagged:
    """A result of ``map(ordered=True)``: its input position travels with it."""

    __slots__ = ("index", "value")

    def __init__(self, index: int, value: Any) -> None:
        self.index = index
        self.value = value


class _WorkerState:
    """One worker thread's part of the stats.

    Written only by the worker itself, read by others under ``_Core.lock``:
    ``job``, the job it holds (None when idle); ``since``, when that job
    started running (or, ``"waiting"``, when it was taken); ``phase``,
    ``"running"``, ``"waiting"`` (for the pool's limiter) or
    ``"delivering"`` (the job is done, its result waits for room in a full
    ``results()``). The worker writes ``since`` before ``job``, one field
    at a time: a reader that is not the stall check (which sees them
    written under the lock) may, for a moment, pair a job with the start of
    the one before it; they are for display. ``_Core.lock`` guards the other
    fields: ``id`` and ``name`` (set once), ``beat`` (the last
    :func:`heartbeat`, 0.0 if none) and ``reported`` (the start of the
    stall clock last reported as stalled, so a stall is reported once).
    """

    __slots__ = ("beat", "id", "job", "name", "phase", "reported", "since")

    def __init__(self, name: str) -> None:
        self.name = name
        self.id = 0
        self.job: Any = None
        self.since = 0.0
        self.phase = "running"
        self.beat = 0.0
        self.reported = -1.0


class _Core:
    """The state a pool shares with its workers (everything but the pool object itself)."""

    track_jobs = True
    """Class-wide switch, on but for ``benchmarks/bench_pools.py``'s stats-off rows: with it
    off (and no ``stall_after``), workers skip the per-job timing and current job, to
    measure what that costs."""

    # Fixed at creation: name, jobs, results, process, wrap_result,
    # wrap_error, before_job, check_job, quit, initial_workers, wg, halted
    # (a lock used as an atomic flag: held once the pool is halted), and,
    # set by the pool's constructor before anyone else sees the core,
    # stall_after and on_stall. lock guards every other field.
    __slots__ = (
        "accepted",
        "before_job",
        "cancel_ctx",
        "cancelled",
        "check_job",
        "closed",
        "ctx",
        "delivered",
        "durations",
        "end_times",
        "ended_at",
        "errors",
        "executor",
        "executor_checked",
        "failed",
        "failed_results",
        "halted",
        "initial_workers",
        "jobs",
        "jobs_closed",
        "lock",
        "name",
        "on_stall",
        "pending_quits",
        "process",
        "quit",
        "reported",
        "results",
        "results_closed",
        "seq",
        "stall_after",
        "stall_handle",
        "started",
        "started_at",
        "stop_after",
        "threads",
        "wg",
        "worker_ids",
        "worker_states",
        "workers",
        "wrap_error",
        "wrap_result",
    )

    def __init__(
        self,
        name: str,
        process: Callable[[Any], Any],
        *,
        initial_workers: int,
        buffer: int,
        wrap_result: Callable[[Any, Any], Any] | None = None,
        wrap_error: Callable[[Any, BaseException], Any] | None = None,
        before_job: Callable[[Context], object] | None = None,
        check_job: Callable[[Any], object] | None = None,
        quit_tokens: int = 0,
        executor: Executor | None = None,
    ) -> None:
        if executor is not None and not isinstance(executor, Executor):
            raise TypeError(
                f"{name}: executor must be a concurrent.futures.Executor, not {executor!r}"
            )
        self.name = name
        self.process = process
        self.executor = executor
        self.executor_checked = executor is None
        self.initial_workers = initial_workers
        self.jobs: Chan[tuple[int, Any, int | None]] = Chan(buffer)
        self.results: Chan[Any] = Chan(buffer)
        self.wrap_result = wrap_result
        self.wrap_error = wrap_error
        self.before_job = before_job
        self.check_job = check_job
        self.quit: Chan[None] | None = Chan(quit_tokens) if quit_tokens else None
        self.wg = WaitGroup()
        self.halted = threading.Lock()
        self.lock = threading.Lock()
        self.started = False
        self.closed = False
        self.jobs_closed = False
        self.results_closed = False
        self.reported = False
        self.ctx: Context | None = None
        self.cancel_ctx: Callable[[], None] | None = None
        self.stop_after: Callable[[], bool] | None = None
        self.workers = 0
        self.threads = 0
        self.pending_quits = 0
        self.seq = 0
        self.accepted = 0
        self.delivered = 0
        self.failed = 0
        self.cancelled = 0
        self.errors: list[BaseException] = []
        self.failed_results = 0  # WorkerPool: delivered Results that carry an error
        self.started_at = 0.0
        self.ended_at = 0.0  # when the last worker left (the figures of a closed pool stop there)
        # The last jobs to finish, for latency and throughput: one entry each.
        self.durations: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.end_times: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.worker_ids = 0
        self.worker_states: list[_WorkerState] = []
        self.stall_after: float | None = None
        self.on_stall: Callable[[WorkerStats], object] | None = None
        self.stall_handle: TimerHandle | None = None

    # -- starting --

    def start_locked(self, ctx: Context | None, workers: int) -> int:
        """Bind the context and reserve ``workers`` workers; how many to :meth:`spawn`.

        Called with ``lock`` held; the caller spawns the workers once it has
        released it. Returns -1, reserving none, if the context is already
        done: the caller then halts the pool.
        """
        if self.started:
            raise RuntimeError(f"{self.name}: start of a pool already started")
        parent = background() if ctx is None else ctx
        c, cancel = with_cancel(parent)
        self.ctx = c
        self.cancel_ctx = cancel
        # Cancellation from outside reaches the pool through this callback;
        # the pool's own cancellations stop it first and halt directly.
        self.stop_after = after_func(c, self.halt_in_goroutine)
        self.started = True
        self.started_at = _monotonic()
        if c.err() is not None:
            return -1
        return self.reserve_locked(workers)

    def check_executor(self) -> None:
        """Before the first start: TypeError if ``process`` cannot reach the executor's processes.

        Only a ``ProcessPoolExecutor`` is checked (with ``pickle``, as it
        sends the function); other executors serialize in their own way and
        report their own errors, job by job. Runs ``process``'s pickling
        (user code) without the lock held.
        """
        with self.lock:
            if self.executor_checked:
                return
            executor = self.executor
        if isinstance(executor, ProcessPoolExecutor):
            try:
                pickle.dumps(self.process)
            except Exception as exc:
                raise TypeError(
                    f"{self.name}: process {self.process!r} cannot run in a "
                    f"ProcessPoolExecutor, which pickles it: {exc}"
                ) from exc
        with self.lock:
            self.executor_checked = True

    def start(self, ctx: Context | None, *, strict: bool) -> None:
        """Start the pool; if not ``strict``, do nothing when it is already started."""
        self.check_executor()
        with self.lock:
            if self.started and not strict:
                return
            if self.closed and not self.started:
                raise RuntimeError(f"{self.name}: start of a closed pool")
            n = self.start_locked(ctx, self.initial_workers)
        self.spawn(n)

    def ensure_started_for_map(self) -> int:
        """Start the pool for ``map()`` unless started; the number of workers to :meth:`spawn`."""
        self.check_executor()
        with self.lock:
            if self.closed:
                raise ClosedChannelError(f"{self.name}: map on a closed pool")
            if self.started:
                return 0
            return self.start_locked(None, self.initial_workers)

    def reserve_locked(self, n: int) -> int:
        """Count ``n`` more workers, with ``lock`` held; they are started by :meth:`spawn`.

        Counted before they exist, so that nobody (``close()``, the halt)
        sees the pool without the workers it is about to have; started after
        the lock is released, because starting threads takes a while and the
        first ones can already work meanwhile.
        """
        self.workers += n
        self.threads += n
        self.wg.add(n)
        return n

    def spawn(self, n: int) -> None:
        """Start ``n`` reserved workers (``lock`` not held); -1 means: halt instead."""
        if n < 0:
            self.halt()
            return
        for i in range(n):
            try:
                go(_work, self)
            except BaseException:
                self.unreserve(n - i)
                raise

    def unreserve(self, n: int) -> None:
        """Take back ``n`` workers reserved that could not be started."""
        with self.lock:
            self.workers -= n
            self.threads -= n
            close = self.threads == 0 and self.jobs_closed and not self.results_closed
            if close:
                self.results_closed = True
        if close:
            self.results.close()
        self.wg.add(-n)

    # -- submitting --

    def put(self, job: Any, tag: int | None) -> BaseException | None:
        """Put ``job`` into the job channel; None once accepted, else the exception to raise.

        Blocks while the buffer is full. The exception returned is a
        :class:`ClosedChannelError` for a closed pool (checked first), or
        the context's ``err()`` for a cancelled one.
        """
        lock = self.lock
        with lock:
            if self.closed:
                return ClosedChannelError(f"send on closed channel: {self.name} is closed")
            ctx = self.ctx
            seq = self.seq
            self.seq = seq + 1
            self.accepted += 1
        if ctx is not None:
            err = ctx.err()
            if err is not None:
                with lock:
                    self.accepted -= 1
                return err
        try:
            self.jobs.send((seq, job, tag))
        except ClosedChannelError as exc:
            with lock:
                self.accepted -= 1
                closed = self.closed
            return exc if closed else self.err()
        except BaseException:
            with lock:
                self.accepted -= 1
            raise
        return None

    def close_intake(self) -> None:
        """Refuse further submits and close the job channel; the workers drain it.

        Makes sure someone will run the jobs already queued: an unstarted
        pool is started, and a DynamicPool left with no worker gets one.
        """
        n = 0
        with self.lock:
            needs_worker = False
            if not self.closed:
                self.closed = True
                needs_worker = not self.halted.locked() and len(self.jobs) > 0
            if not self.jobs_closed:
                self.jobs_closed = True
                # Closed before any worker starts, so that a submit blocked
                # now fails rather than slipping in; under the lock, so that
                # nobody sees the channel closed and no worker to drain it.
                self.jobs.close()
            if needs_worker:
                if not self.started:
                    n = self.start_locked(None, self.initial_workers)
                elif self.workers == 0:
                    n = self.reserve_locked(1)
        self.spawn(n)
        self.close_results_if_idle()

    # -- stopping --

    def close(self, *, report: bool = True) -> None:
        """The pool's ``close()``: close intake, wait for the workers, close results, report."""
        if getattr(_internal, "core", None) is self:
            raise RuntimeError(
                f"{self.name}: close() called from the pool's own thread would wait for itself"
            )
        self.close_intake()
        self.wg.wait()
        if self.halted.locked():
            self.drain()
        self.close_results_if_idle()
        self.release_ctx()
        with self.lock:
            errors = None
            if report and self.errors and not self.reported:
                self.reported = True
                errors = list(self.errors)
        if errors:
            n = len(errors)
            raise BaseExceptionGroup(f"{self.name}: {n} job{'s' if n > 1 else ''} failed", errors)

    def release_ctx(self) -> None:
        """Cancel the pool's own context (Go's ``defer cancel()``), without halting it."""
        with self.lock:
            stop_after, cancel = self.stop_after, self.cancel_ctx
        if stop_after is not None:
            stop_after()
        if cancel is not None:
            cancel()

    def halt(self) -> None:
        """Cancellation: start no more jobs, count the queued ones cancelled, wake every worker.

        Idempotent. Run by the context's ``after_func`` when the context
        ends, or directly by :meth:`abort`. Never blocks.
        """
        with self.lock:
            if not self.halted.acquire(False):
                return
            if not self.jobs_closed:
                self.jobs_closed = True
                self.jobs.close()
            self.drain_locked()
        self.close_results_if_idle()

    def halt_in_goroutine(self) -> None:
        """:meth:`halt`, run by the context's ``after_func`` in a goroutine of the pool's own."""
        _internal.core = self
        try:
            self.halt()
        finally:
            _internal.core = None

    def abort(self) -> None:
        """Cancel the work not yet run: the pool's own context, then the halt."""
        self.release_ctx()
        self.halt()

    def drain(self) -> None:
        """Count as cancelled every job left in the (closed) job channel."""
        with self.lock:
            self.drain_locked()

    def drain_locked(self) -> None:
        # Under the lock, so that once results() is closed (which needs the
        # lock), every job taken out of the channel has been counted.
        recv_ok = self.jobs.recv_ok
        while recv_ok()[1]:
            self.cancelled += 1

    def close_results_if_idle(self) -> None:
        with self.lock:
            close = self.threads == 0 and self.jobs_closed and not self.results_closed
            if close:
                self.results_closed = True
        if close:
            self.results.close()

    def worker_exited(self, told_to_quit: bool, ws: _WorkerState | None = None) -> None:
        with self.lock:
            if not told_to_quit:  # else take_quit_locked() did it
                self.threads -= 1
                self.workers -= 1
            if ws is not None:
                self.worker_states.remove(ws)
            if self.threads == 0:
                self.ended_at = _monotonic()
                if self.stall_handle is not None:
                    self.stall_handle.cancel()  # no job left to watch
                    self.stall_handle = None
            close = self.threads == 0 and self.jobs_closed and not self.results_closed
            if close:
                self.results_closed = True
        if close:
            self.results.close()
        self.wg.done()

    def err(self) -> Exception:
        """The error a submit to this halted pool raises: its context's ``err()``."""
        with self.lock:
            ctx = self.ctx
        err = None if ctx is None else ctx.err()
        return Canceled(f"{self.name} was cancelled") if err is None else err

    # -- accounting, called by the workers --

    def record_failure(
        self,
        seq: int,
        job: Any,
        exc: BaseException,
        ws: _WorkerState | None = None,
        since: float = 0.0,
    ) -> bool:
        """Record a handler's exception; True if this worker must now leave.

        With ``ws``, the job (running since ``since``) also ends for the stats.
        """
        end = _monotonic()
        try:
            exc.add_note(f"{self.name} job #{seq} failed: {_repr.repr(job)}")
        except Exception:  # pragma: no cover - a handler that broke __notes__
            pass
        with self.lock:
            self.failed += 1
            self.errors.append(exc)
            if ws is not None:
                ws.job = None
                self.durations.append(end - since)
                self.end_times.append(end)
            return self.take_quit_locked()

    def take_quit_locked(self) -> bool:
        """Serve a pending ``remove_worker`` with the calling worker, if one is pending."""
        if self.pending_quits:
            self.pending_quits -= 1
            self.threads -= 1
            return True
        return False

    def add_cancelled(self) -> None:
        with self.lock:
            self.cancelled += 1

    # -- stalls: one check scheduled per pool, for the earliest deadline --

    def job_started(self, ws: _WorkerState, job: Any, since: float) -> None:
        """A worker of a pool with ``stall_after`` starts running ``job``: watch it."""
        with self.lock:
            ws.since = since
            ws.phase = "running"
            ws.job = job
            self.arm_stall_check_locked(since)

    def arm_stall_check_locked(self, clock: float) -> None:
        """Make sure a stall check is scheduled, for a stall clock started at ``clock``.

        Any check already scheduled is due no later than this one would be
        (every clock it watches started earlier), so one is enough.
        """
        if self.stall_handle is None:
            assert self.stall_after is not None
            self.stall_handle = schedule(clock + self.stall_after, self.check_stalls)

    def check_stalls(self) -> None:
        """The stall check (on the timer scheduler thread): find new stalls, re-arm, report."""
        stall_after = self.stall_after
        assert stall_after is not None
        now = _monotonic()
        found: list[tuple[_WorkerState, Any, float, float]] = []
        with self.lock:
            self.stall_handle = None
            due = math.inf
            for ws in self.worker_states:
                job, since = ws.job, ws.since
                if job is None or ws.phase != "running":
                    continue
                clock = max(since, ws.beat)
                if ws.reported == clock:
                    continue  # this stall was reported; a heartbeat or a new job re-arms
                if clock + stall_after <= now:
                    ws.reported = clock
                    found.append((ws, job, now - since, now - clock))
                else:
                    due = min(due, clock + stall_after)
            if due != math.inf:
                self.stall_handle = schedule(due, self.check_stalls)
            if found:
                reports = [(ws.id, ws.name, job, busy, quiet) for ws, job, busy, quiet in found]
        if found:
            # The scheduler thread must stay quick: reprs, logging and the
            # user's callback run in a goroutine of their own.
            timer_after_func(0, lambda: self.report_stalls(reports))

    def report_stalls(self, reports: list[tuple[int, str, Any, float, float]]) -> None:
        """Tell the user about each stall: ``on_stall(WorkerStats)``, else a logging warning.

        An exception from ``on_stall`` is logged (ERROR, logger ``gopool``)
        and the other reports go on.
        """
        for wid, name, job, busy, quiet in reports:
            worker = WorkerStats(wid, name, _repr_job(job), busy, quiet, True, "stalled")
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

    # -- the pool dropped or alive at exit --

    def dropped(self) -> None:
        """The pool object is gone (or the interpreter exits) while still open."""
        with self.lock:
            if self.closed:
                return
        never_ran = len(self.jobs)
        if never_ran:
            warnings.warn(
                f"{self.name} was never closed: {never_ran} queued "
                f"job{'s' if never_ran > 1 else ''} never ran",
                ResourceWarning,
                stacklevel=2,
            )
        self.abort()

    def stats(self) -> PoolStats:
        """A :class:`PoolStats` snapshot: counts under ``lock``, figures and reprs outside it."""
        now = _monotonic()
        with self.lock:
            queued = len(self.jobs)
            if self.halted.locked():
                state = "cancelled"
            elif self.closed:
                state = "closing" if self.threads else "closed"
            else:
                state = "running" if self.started else "new"
            workers = [
                (ws.id, ws.name, ws.job, ws.since, ws.phase, ws.beat) for ws in self.worker_states
            ]
            failed_results = self.failed_results
            submitted = self.accepted
            completed = self.delivered - failed_results
            failed = self.failed + failed_results
            cancelled = self.cancelled
            live = self.workers
            if state in ("closed", "cancelled") and self.threads == 0 and self.ended_at:
                now = self.ended_at  # a finished pool's figures stay as they were at the end
            started_at = self.started_at if self.started else now
            durations = list(self.durations)
            end_times = list(self.end_times)
        stall_after = self.stall_after
        per_worker = []
        in_flight = 0
        for wid, name, job, since, phase, beat in workers:
            if job is None:
                per_worker.append(WorkerStats(wid, name, None, 0.0, 0.0, False, "idle"))
                continue
            in_flight += 1
            quiet = now - max(since, beat) if phase == "running" else 0.0
            stalled = stall_after is not None and quiet >= stall_after
            per_worker.append(
                WorkerStats(
                    wid,
                    name,
                    _repr_job(job),
                    now - since,
                    quiet,
                    stalled,
                    "stalled" if stalled else phase,
                )
            )
        p50, p95, p99 = percentiles(durations, (50, 95, 99))
        return PoolStats(
            pool=self.name,
            state=state,
            submitted=submitted,
            queued=queued,
            in_flight=in_flight,
            completed=completed,
            failed=failed,
            cancelled=cancelled,
            workers=live,
            throughput=throughput(end_times, now, started_at, len(end_times) == LATENCY_WINDOW),
            latency_p50=p50,
            latency_p95=p95,
            latency_p99=p99,
            per_worker=tuple(per_worker),
            stall_after=stall_after,
            elapsed=now - started_at,
        )

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            queued = len(self.jobs)
            finished = self.delivered + self.failed + self.cancelled
            if self.halted.locked():
                state = "cancelled"
            elif self.closed:
                state = "closing" if self.threads else "closed"
            else:
                state = "running" if self.started else "new"
            return {
                "state": state,
                "workers": self.workers,
                "queued": queued,
                "in_flight": max(0, self.accepted - queued - finished),
                "completed": self.delivered,
                "failed": self.failed,
                "cancelled": self.cancelled,
            }


def _repr_job(job: Any) -> str:
    """A job's ``repr`` for the stats, truncated; never raises (a broken ``__repr__`` says so)."""
    try:
        return _repr.repr(job)
    except Exception as exc:
        return f"<{type(job).__name__}: repr failed: {type(exc).__name__}>"


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
    ws: _WorkerState | None = getattr(_internal, "worker", None)
    core: _Core | None = getattr(_internal, "core", None)
    if ws is None or core is None:
        return False
    now = _monotonic()
    with core.lock:
        if ws.job is None or ws.phase != "running":
            return False
        ws.beat = now
        if core.stall_after is not None:
            core.arm_stall_check_locked(now)
    return True


def _check_stall_after(stall_after: object, what: str) -> float | None:
    if stall_after is None:
        return None
    if not isinstance(stall_after, int | float) or isinstance(stall_after, bool):
        raise TypeError(
            f"{what}: stall_after must be a number of seconds or None, not {stall_after!r}"
        )
    if math.isnan(stall_after) or stall_after <= 0:
        raise ValueError(f"{what}: stall_after must be > 0 seconds, not {stall_after!r}")
    return float(stall_after)


_new_pool_hooks: list[Callable[[PoolBase[Any, Any]], object]] = []
_new_pool_hooks_lock = threading.Lock()  # guards _new_pool_hooks


def on_new_pool(hook: Callable[[PoolBase[Any, Any]], object]) -> Callable[[], None]:
    """Call ``hook(pool)`` for every pool created from now on; returns a function that stops it.

    For tools that watch pools they do not create (``python -m gopool
    --live`` watches each example's pool). The hook runs in the thread that
    creates the pool, at the end of its constructor; an exception from it
    propagates to that constructor's caller.
    """
    check_callable(hook, "on_new_pool: hook")
    with _new_pool_hooks_lock:
        _new_pool_hooks.append(hook)

    def remove() -> None:
        with _new_pool_hooks_lock:
            if hook in _new_pool_hooks:
                _new_pool_hooks.remove(hook)

    return remove


def _dropped(core: _Core) -> None:
    """The finalizer of a pool object: warn about and cancel what will never run."""
    if getattr(_internal, "core", None) is not None:
        # A collection can run this inside a pool's own thread, in the middle
        # of a channel operation holding a lock we are about to take: hand
        # the work to a fresh thread instead (impossible only at exit).
        try:
            go(core.dropped)
            return
        except RuntimeError:
            pass
    core.dropped()


def _work(core: _Core) -> None:
    """One worker: the article's loop, beside which it reads line for line::

        for {                                  while True:
            select {                               item, ok = next_job()
            case <-ctx.Done():                     (cancellation closes the job
                return                              channel and sets core.halted)
            case job, ok := <-jobs:
                if !ok { return }                  if not ok: break
                result := process(job)             out = process(job)
                select {                           deliver: results.send(out), or
                case results <- result:            select((results.send, out),
                case <-ctx.Done(): return                 done.recv)
                }
            }
        }

    Unlike the Go loop, a job is never dropped: a job taken after the
    cancellation, or whose result cannot be delivered because of it, is
    counted cancelled, and an exception from the handler is recorded (or put
    in the ``Result``) and the loop goes on. Waiting for a job is a plain
    receive, cheaper than a two-case select per job: cancellation wakes idle
    workers by closing the job channel instead.
    """
    _internal.core = core
    lock = core.lock
    results = core.results
    send = results.send
    halted = core.halted.locked
    process = core.process
    executor = core.executor
    wrap_result = core.wrap_result
    wrap_error = core.wrap_error
    before_job = core.before_job
    stall_after = core.stall_after
    # The stats' share of the loop: the job's start and end times and the
    # worker's current job (see _WorkerState); the counts are kept anyway.
    track = core.track_jobs or stall_after is not None
    # The common case in one branch per job: no limiter wait, no stall timer.
    plain = track and before_job is None and stall_after is None
    watched = track and not plain
    monotonic = _monotonic
    durations_append = core.durations.append
    end_times_append = core.end_times.append
    ws = _WorkerState(threading.current_thread().name)
    since = end = 0.0
    with lock:
        ctx = core.ctx
        core.worker_ids += 1
        ws.id = core.worker_ids
        core.worker_states.append(ws)
    _internal.worker = ws
    assert ctx is not None
    done_recv = ctx.done().recv
    next_job: Callable[[], tuple[Any, bool]] = (
        core.jobs.recv_ok if core.quit is None else _next_job_or_quit(core)
    )
    told_to_quit = False
    try:
        while True:
            item, ok = next_job()
            if not ok:
                break  # closed, and drained unless halted
            if item is _QUIT:
                told_to_quit = True
                break
            if halted():
                core.add_cancelled()
                break
            seq, job, tag = item
            failed = False
            if plain:
                since = monotonic()
                ws.since = since
                ws.job = job
            elif watched and before_job is not None:
                since = monotonic()
                ws.phase = "waiting"
                ws.since = since
                ws.job = job
            try:
                if before_job is not None and not _may_start(before_job, ctx, done_recv):
                    core.add_cancelled()
                    break
                if watched:
                    # The wait for a token, if any, is not the job's time.
                    since = monotonic()
                    if stall_after is None:
                        ws.since = since
                        ws.phase = "running"
                        ws.job = job
                    else:
                        core.job_started(ws, job, since)
                if executor is None:
                    out = process(job)
                else:
                    out = _run_in(executor, process, job, done_recv)
                    if out is _ABANDONED:
                        core.add_cancelled()
                        break
            except BaseException as exc:
                if wrap_error is None:
                    told_to_quit = core.record_failure(seq, job, exc, ws if track else None, since)
                    if tag is not None:
                        # An ordered map() waits for this slot: tell it to skip.
                        marker = _Tagged(tag, _FAILED)
                        try:
                            send(marker, timeout=0.0)
                        except TimeoutError:
                            if select((send, marker), done_recv)[0] != 0:
                                break
                    if told_to_quit:
                        break
                    continue
                if track:
                    end = monotonic()
                failed = True
                out = wrap_error(job, exc)
            else:
                if track:
                    end = monotonic()
                if wrap_result is not None:
                    out = wrap_result(job, out)
            if tag is not None:
                out = _Tagged(tag, out)
            try:
                send(out, timeout=0.0)
            except TimeoutError:
                # Results are full: wait for room, or for the cancellation.
                if track:
                    ws.phase = "delivering"  # not stalled: waiting for a reader
                if select((send, out), done_recv)[0] != 0:
                    core.add_cancelled()
                    break
                ws.phase = "running"
            # Outside the lock: job has one writer, and a reader may see the job
            # leave in_flight a moment before it counts as completed, never both.
            ws.job = None
            with lock:
                core.delivered += 1
                if failed:
                    core.failed_results += 1
                if track:
                    durations_append(end - since)
                    end_times_append(end)
                if core.pending_quits:
                    told_to_quit = core.take_quit_locked()
            if told_to_quit:
                break
    finally:
        _internal.core = None
        _internal.worker = None
        core.worker_exited(told_to_quit, ws)


def _run_in(
    executor: Executor, process: Callable[[Any], Any], job: Any, done_recv: Callable[[], Any]
) -> Any:
    """``process(job)`` run by ``executor``: its result, its exception, or ``_ABANDONED``.

    The worker waits for the future or for the end of the context, whichever
    comes first (the future's done-callback closes a channel it selects on:
    no polling). When the context ends first, the future is cancelled; if
    the executor has already started it, it cannot be stopped: the executor
    finishes it, its result is dropped, and the job counts as cancelled.
    """
    future = executor.submit(process, job)
    finished: Chan[None] = Chan()
    future.add_done_callback(lambda _: finished.close())
    if select(finished.recv, done_recv)[0] != 0:
        future.cancel()
        if future.cancelled() or not future.done():
            return _ABANDONED
    return future.result()


def _may_start(
    before_job: Callable[[Context], object], ctx: Context, done_recv: Callable[[], Any]
) -> bool:
    """Run the pre-job wait; False if the context ends (or will end) before the job may start."""
    try:
        before_job(ctx)
        return True
    except BaseException as exc:
        if ctx.err() is not None:
            return False
        if isinstance(exc, DeadlineExceeded):
            # The limiter knows the deadline comes first: the job is cancelled
            # at the deadline, and not a moment before.
            done_recv()
            return False
        raise


def _next_job_or_quit(core: _Core) -> Callable[[], tuple[Any, bool]]:
    """DynamicPool's next-job step: a job, or ``(_QUIT, True)`` once told to leave."""
    assert core.quit is not None
    jobs_recv_ok = core.jobs.recv_ok
    quit_recv = core.quit.recv
    lock = core.lock

    def next_job() -> tuple[Any, bool]:
        while True:
            index, got = select(jobs_recv_ok, quit_recv)
            if index == 0:
                return got  # type: ignore[no-any-return]
            with lock:
                if core.take_quit_locked():
                    return _QUIT, True
            # A token whose removal a worker finishing a job already served.

    return next_job


class PoolBase(Generic[T, R]):
    """What every pool has: start, submit, results, close, map, ``with``, ``cancelled``, repr."""

    __slots__ = ("__weakref__", "_core", "_finalizer")

    _core: _Core
    _finalizer: weakref.finalize[Any, Any]

    def _setup(
        self,
        core: _Core,
        stall_after: float | None = None,
        on_stall: Callable[[WorkerStats], object] | None = None,
    ) -> None:
        core.stall_after = _check_stall_after(stall_after, core.name)
        if on_stall is not None:
            check_callable(on_stall, f"{core.name}: on_stall")
        core.on_stall = on_stall
        self._core = core
        # The workers hold the core, not the pool: a dropped pool is collected,
        # and this cancels what it would never run (and warns about it).
        self._finalizer = weakref.finalize(self, _dropped, core)
        with _new_pool_hooks_lock:
            hooks = list(_new_pool_hooks)
        for hook in hooks:
            hook(self)

    def stats(self) -> PoolStats:
        """A frozen snapshot of the pool's counts, throughput, latency and workers.

        The counts are taken together under the pool's lock, so they agree
        (see :class:`~gopool.pools.PoolStats`: once the pool is closed,
        ``completed + failed + cancelled == submitted``). Each worker's
        :class:`~gopool.pools.WorkerStats` says which job it runs, for how
        long, and whether it is stalled (``stall_after``). Safe from any
        thread, at any time, also on a closed pool; never blocks beyond a
        short critical section. Costs O(workers + 1,024): call it a few
        times a second, not per job.
        """
        return self._core.stats()

    def start(self, ctx: Context | None = None) -> Self:
        """Start the workers under ``ctx`` (``background()`` if None); return the pool.

        Jobs submitted before ``start`` are waiting in the buffer and run
        now. When ``ctx`` ends, the pool is cancelled: workers stop after
        their current job, jobs not yet started are counted in
        :attr:`cancelled`, and ``results()`` is closed once the workers have
        stopped. Never blocks. Raises ``RuntimeError`` if the pool was
        already started (or closed), ``TypeError`` for a ``ctx`` that is not
        a context.
        """
        self._core.start(ctx, strict=True)
        return self

    def submit(self, job: T) -> None:
        """Queue ``job`` (Go's ``p.jobs <- job``); before ``start`` too.

        Blocks while the job buffer is full (backpressure). Raises
        :class:`~gopool.chan.ClosedChannelError` if the pool is closed, or
        gets closed while this call is blocked (the job is then not
        accepted); raises the context's ``err()`` if the pool's context has
        ended (the closed check comes first).
        """
        err = self._core.put(job, None)
        if err is not None:
            raise err

    def results(self) -> RecvChan[R]:
        """The channel results are put into (Go's ``p.Results()``).

        Closed once the workers have stopped, after ``close()`` or a
        cancellation, so ``for r in pool.results(): ...`` always ends. Its
        capacity equals the job buffer's. Iterate it from another thread than
        the one that calls ``close()`` if more results may be pending than it
        holds, or use :meth:`map`.
        """
        return self._core.results

    def close(self) -> None:
        """No more submits; let the workers finish every queued job; close ``results()``.

        Blocks until every worker has stopped, so every result has been put
        into ``results()``: with more results pending than it holds, a
        consumer must be reading it in another thread (or use :meth:`map`).
        A pool never started is started first if jobs are queued. Then
        raises an ``ExceptionGroup`` (a ``BaseExceptionGroup`` if a failure is
        not an ``Exception``) of every exception a handler raised, each with
        a note naming its job. Idempotent: a later call returns None without
        raising the same failures again. After a cancellation it returns as
        soon as the workers have stopped. Raises ``RuntimeError`` if called
        from one of the pool's own workers (it would wait for itself).
        """
        try:
            self._core.close()
        finally:
            self._finalizer.detach()

    def map(self, jobs: Iterable[T], *, ordered: bool = False) -> Iterator[R]:
        """Run every job of ``jobs`` and yield the results; then close the pool.

        Starts the pool if needed, and feeds it from a goroutine that pulls
        ``jobs`` lazily, only as the job buffer drains, so a huge or endless
        iterable runs in bounded memory. Results come as they complete, or
        in input order with ``ordered=True`` (a slow job then holds back the
        ones after it; the feeder stays at most about two buffers ahead).
        Safe from a single thread however many jobs there are: the caller
        consumes while the goroutine submits.

        After the last result the pool is closed, and the failures are
        raised as :meth:`close` raises them. An exception raised by
        ``jobs`` itself stops the feeding; it is raised after the results
        of the jobs already submitted. Leaving the loop early (``break``, or
        closing the iterator) cancels the jobs not yet run and closes the
        pool. If the pool's context ends, the iteration ends early too
        (see :attr:`cancelled`). Raises ``ClosedChannelError`` (at the first
        ``next``) for a closed pool, ``TypeError`` at once if ``jobs`` is not
        iterable.
        """
        return self._map(iter(jobs), bool(ordered))

    def _map(self, it: Iterator[T], ordered: bool) -> Iterator[R]:
        core = self._core
        to_spawn = core.ensure_started_for_map()
        window: Chan[None] | None = None
        if ordered:
            window = Chan(2 * core.jobs.cap + core.initial_workers + 16)
        failure_lock = threading.Lock()
        failure: list[BaseException] = []
        # The feeder first: it fills the buffer while the workers are starting,
        # and each worker starts working as soon as it is up.
        try:
            go(_feed, core, it, window, failure_lock, failure)
        finally:
            core.spawn(to_spawn)

        finished = False
        try:
            if window is None:
                yield from core.results
            else:
                pending: dict[int, Any] = {}
                next_index = 0
                for item in core.results:
                    if type(item) is not _Tagged:
                        yield item  # submitted with submit(), not by this map()
                        continue
                    pending[item.index] = item.value
                    while next_index in pending:
                        value = pending.pop(next_index)
                        next_index += 1
                        window.recv()  # one more job may be fed
                        if value is not _FAILED:
                            yield value
                # Gaps left are jobs cancelled before they delivered.
                for index in sorted(pending):
                    value = pending[index]
                    if value is not _FAILED:
                        yield value
            finished = True
        finally:
            if window is not None:
                window.close()  # a feeder waiting for room in the window stops
            if not finished:
                core.abort()
                core.close(report=False)
                self._finalizer.detach()
        with failure_lock:
            feed_error = failure[0] if failure else None
        try:
            self.close()
        except BaseExceptionGroup:
            if feed_error is not None:
                raise feed_error  # noqa: B904 - the group stays attached as its context
            raise
        if feed_error is not None:
            raise feed_error

    @property
    def cancelled(self) -> int:
        """How many accepted jobs never delivered a result because the context ended."""
        with self._core.lock:
            return self._core.cancelled

    def __enter__(self) -> Self:
        """Start the pool (unless already started) and return it."""
        self._core.start(None, strict=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the pool; if the body raised, cancel the work not yet run instead.

        After a raising body, waits only for the jobs already running, and
        lets the body's exception propagate unchanged; failures recorded so
        far stay for a later :meth:`close` to raise.
        """
        if exc_type is None:
            self.close()
            return
        core = self._core
        core.abort()
        core.close(report=False)
        self._finalizer.detach()

    def __repr__(self) -> str:
        s = self._core.snapshot()
        return (
            f"<{type(self).__name__} {s['state']} workers={s['workers']} queued={s['queued']} "
            f"in_flight={s['in_flight']} completed={s['completed']} failed={s['failed']} "
            f"cancelled={s['cancelled']}>"
        )


def _feed(
    core: _Core,
    it: Iterator[Any],
    window: Chan[None] | None,
    failure_lock: threading.Lock,
    failure: list[BaseException],
) -> None:
    """``map()``'s feeder goroutine: pull a job only when it can be submitted; close intake."""
    _internal.core = core
    check_job = core.check_job
    index = 0
    try:
        while True:
            try:
                job = next(it)
                if check_job is not None:
                    check_job(job)
            except StopIteration:
                return
            except BaseException as exc:
                with failure_lock:
                    failure.append(exc)
                return
            if window is not None:
                try:
                    window.send(None)
                except ClosedChannelError:
                    return  # the map() ended
                tag: int | None = index
                index += 1
            else:
                tag = None
            if core.put(job, tag) is not None:
                return  # closed or cancelled: nothing more is accepted
    finally:
        _internal.core = None
        core.close_intake()
