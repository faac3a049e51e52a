"""A pool's shared state and lifecycle: start, workers, close, halt, and the final counts.

:class:`Core` is what a pool shares with its worker threads (everything but
the pool object itself): the job and results channels, the lock, the
lifecycle flags, the worker counts, and the counts of jobs finished by
workers that have left. The submit side is :mod:`gopool.pools._intake`, the
worker loop :mod:`gopool.pools._worker`, stalls :mod:`gopool.pools._stalls`.

Invariants (each holds whenever ``lock`` is free):

* Accounting. Every accepted job (``intake.accepted``) leaves the job
  channel exactly once, taken by a worker or by the drain of a halted pool,
  and whoever takes it counts it exactly once: ``completed`` or ``failed``
  (in the worker's state, or here once it has left), ``failed`` here when
  its exception is recorded, or ``cancelled`` here. So once the channel is
  closed and drained and every worker has stopped, ``completed + failed +
  cancelled == accepted``.
* Shutdown. The job channel is closed once, by :meth:`close_intake`
  (graceful: the workers drain it) or by :meth:`halt` (cancellation: no job
  starts after it, what is left is counted cancelled); ``jobs_closed``
  records it. ``halted`` is set by the cancellation itself, in the thread
  that cancels, before its ``cancel()`` returns (the halt, which runs in a
  goroutine a moment later, sets it too if it came another way), and
  always before the channel closes: a worker checks it after each take, so
  no job starts once ``cancel()`` has returned. A worker that finds it set
  runs the halt itself before it stops, and so does ``close()`` after the
  workers stopped: the queued jobs are counted cancelled by then, even if
  the halt's goroutine has not run yet. Either way every submit still
  waiting for room is refused.
* ``results()`` is closed once, in :meth:`_finish_locked`, by whoever first
  sees the job channel closed and no worker thread left: the last worker
  out, the halt, or ``close()``. So a consumer iterating it always ends.
* ``threads == workers + pending_quits``: ``threads`` counts the worker
  threads still taking jobs, from the moment they are reserved (a little
  before their thread starts); a thread is either a worker or one told to
  leave (``DynamicPool.remove_worker``) finishing its job. Each removal is
  served by exactly one thread leaving (:meth:`quit_for`), which stops
  counting in ``threads`` at that moment.
* ``worker_states`` lists the state of every worker thread from its first
  moment to its exit; at its exit its counts and its last durations move
  into this object's, under the lock, so a sum over both never changes.

Lock order: ``lock`` before a channel's or a context's lock, never the
reverse, and before the timer scheduler's. It is never held while blocking
or while running user code.
"""

from __future__ import annotations

import itertools
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from .._waiter import Waiter, wake_all
from ..chan import Chan, ClosedChannelError, go
from ..context import Canceled, Context, background, mark_then_go, with_cancel
from ..sync import WaitGroup
from ._intake import Intake, offer
from ._stalls import StallWatch, repr_job
from ._variant import Variant
from ._worker import FAILED, WorkerState, current, last_jobs, work
from .stats import LATENCY_WINDOW, PoolStats, WorkerStats, summarize

__all__ = ["Core"]


_monotonic = time.monotonic


class Core:
    """The state a pool shares with its workers (see the module docstring)."""

    track_jobs = True
    """Class-wide switch, on but for ``benchmarks/bench_pools.py``'s stats-off rows: with it
    off (and no ``stall_after``), workers skip the per-job timing and current job, to
    measure what that costs. Read by each worker as it starts."""

    # Fixed at creation: name, process, executor, jobs, results, signal,
    # wrap_result, on_error, before_job, check_job, initial_workers, wg, halted (a lock
    # used as an atomic flag: held once the pool is cancelled), intake, stalls.
    # lock guards every other field.
    __slots__ = (
        "before_job", "cancel_ctx", "cancelled", "check_job", "closed", "completed", "ctx",
        "ended_at", "errors", "executor", "executor_checked", "failed", "halted",
        "initial_workers", "intake", "jobs", "jobs_closed", "lock", "mapped", "name",
        "on_error", "pending_quits", "process", "reported", "results", "results_closed",
        "signal", "stalls", "started", "started_at", "stop_after", "threads", "wg", "window",
        "worker_ids", "worker_states", "workers", "wrap_result",
    )

    def __init__(
        self,
        name: str,
        process: Callable[[Any], Any],
        workers: int,
        buffer: int,
        executor: Executor | None,
        stall_after: float | None,
        on_stall: Callable[[WorkerStats], object] | None,
        variant: Variant,
    ) -> None:
        """The arguments are checked already (by the pool's constructor)."""
        self.name = name
        self.process = process
        self.executor = executor
        self.executor_checked = executor is None
        initial = variant.initial_workers
        self.initial_workers = workers if initial is None else initial
        self.jobs: Chan[tuple[int, Any, int | None]] = Chan(buffer)
        self.results: Chan[Any] = Chan(buffer)
        # Wakes an idle worker for what a receive on the job channel cannot
        # tell it: a removal (DynamicPool), or a job waiting for an
        # unbuffered channel. Its capacity bounds the removals in flight.
        dynamic = initial is not None
        self.signal: Chan[None] | None = (
            Chan(workers if dynamic else 1) if dynamic or buffer == 0 else None
        )
        self.wrap_result = variant.wrap_result
        wrap_error = variant.wrap_error
        self.on_error: Callable[[int, Any, BaseException], Any] = (
            self.record_failure
            if wrap_error is None
            else (lambda _seq, job, exc: wrap_error(job, exc))
        )
        self.before_job = variant.before_job
        self.check_job = variant.check_job
        self.wg = WaitGroup()
        self.halted = threading.Lock()
        self.lock = threading.Lock()
        self.intake = Intake(
            self.lock, self.jobs, self.signal, self._submits_wait_locked, self._refusal_locked
        )
        self.worker_states: list[WorkerState] = []
        self.stalls = (
            None
            if stall_after is None
            else StallWatch(name, self.lock, self.worker_states, stall_after, on_stall)
        )
        self.started = False
        self.closed = False
        self.jobs_closed = False
        self.results_closed = False
        self.reported = False
        self.mapped = False
        self.ctx: Context | None = None
        self.cancel_ctx: Callable[[], None] | None = None
        self.stop_after: Callable[[], bool] | None = None
        self.workers = 0
        self.threads = 0
        self.pending_quits = 0
        self.completed = 0  # by workers that have left
        self.failed = 0  # recorded failures, and those of workers that have left
        self.cancelled = 0
        self.errors: list[BaseException] = []
        self.started_at = 0.0
        self.ended_at = 0.0  # when the last worker left (a closed pool's figures stop there)
        # The last jobs of the workers that have left: (end time, duration), oldest first.
        self.window: deque[tuple[float, float]] = deque(maxlen=LATENCY_WINDOW)
        self.worker_ids = 0

    # -- starting --

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
        if isinstance(self.executor, ProcessPoolExecutor):
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
        """Start the pool; if not ``strict``, do nothing when it is already started.

        ``RuntimeError`` if ``strict`` and started, or if closed before it
        ever started; ``TypeError`` for a ``ctx`` that is not a context.
        """
        self.check_executor()
        with self.lock:
            if self.started and not strict:
                return
            if self.closed and not self.started:
                raise RuntimeError(f"{self.name}: start of a closed pool")
            n = self._start_locked(ctx, self.initial_workers)
        self.spawn(n)

    def claim_map(self) -> None:
        """The pool's one ``map()`` begins; RuntimeError if it had one, or is closed."""
        with self.lock:
            if self.closed:
                raise ClosedChannelError(
                    f"{self.name}.map() on a closed pool: map() consumes its pool (it "
                    f"closes it after the last result); make a new pool for each map()"
                )
            if self.mapped:
                raise RuntimeError(
                    f"{self.name}.map() called twice: map() consumes its pool (it closes "
                    f"it after the last result); make a new pool for each map()"
                )
            self.mapped = True

    def begin_map(self) -> int:
        """Start the pool for ``map()`` unless started; how many workers to :meth:`spawn`."""
        self.check_executor()
        with self.lock:
            if self.closed:
                raise ClosedChannelError(f"{self.name}.map() on a closed pool")
            if self.started:
                return 0
            return self._start_locked(None, self.initial_workers)

    def _start_locked(self, ctx: Context | None, workers: int) -> int:
        """Bind the context and reserve ``workers``; how many to :meth:`spawn`, -1 to halt."""
        if self.started:
            raise RuntimeError(f"{self.name}: start of a pool already started")
        parent = background() if ctx is None else ctx
        c, cancel = with_cancel(parent)
        self.ctx = c
        self.intake.bind_locked(c)
        self.cancel_ctx = cancel
        # Cancellation from outside reaches the pool through this callback;
        # the pool's own cancellations stop it first and halt directly.
        self.stop_after = mark_then_go(c, self._mark_halted, self._halt_in_goroutine)
        self.started = True
        self.started_at = _monotonic()
        if c.err() is not None:
            return -1
        return self._reserve_locked(workers)

    def _reserve_locked(self, n: int) -> int:
        """Count ``n`` more workers; they are started by :meth:`spawn` once the lock is free.

        Counted before they exist, so that nobody (``close()``, the halt)
        sees the pool without the workers it is about to have; started
        after, because starting threads takes a while and the first ones
        can already work meanwhile.
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
                go(work, self)
            except BaseException:
                with self.lock:
                    self.workers -= n - i
                    self.threads -= n - i
                    self._finish_locked()
                self.wg.add(-(n - i))
                raise

    def worker_started(self, ws: WorkerState) -> None:
        """A worker thread begins: it gets its number, and is listed from now to its exit."""
        with self.lock:
            self.worker_ids += 1
            ws.id = self.worker_ids
            ws.submits_wait = bool(self.intake.queue)
            ws.quits_pending = self.pending_quits > 0
            self.worker_states.append(ws)

    # -- what a worker comes to see when one of its flags is up --

    def _submits_wait_locked(self, flag: bool) -> None:
        """Raise (a submit waits for room) or lower (none does) every worker's flag."""
        for ws in self.worker_states:
            ws.submits_wait = flag

    def refill_for(self, ws: WorkerState) -> None:
        """Worker ``ws`` freed a slot: the first waiting submits get it."""
        with self.lock:
            woken = self.intake.refill_locked()
            if not self.intake.queue:
                self._submits_wait_locked(False)  # no other worker needs to come and see
        wake_all(woken)

    def quit_for(self, ws: WorkerState) -> bool:
        """Serve a pending ``remove_worker`` with worker ``ws``; True if it must leave now.

        Its thread stops counting in ``threads`` at once (see the module
        docstring); an unbuffered pool wakes another idle worker for the
        submits still waiting, as the signal this one took may have been
        theirs.
        """
        with self.lock:
            if self.pending_quits:
                self.pending_quits -= 1
                self.threads -= 1
                self.intake.signal_again_locked()
                return True
            ws.quits_pending = False
            return False

    def take_for(self, ws: WorkerState) -> tuple[Any, bool] | None:
        """An idle worker looks before it parks: ``(None, True)`` to leave, ``(item, True)``
        for a waiting job it takes itself (unbuffered), None for nothing."""
        if ws.quits_pending and self.quit_for(ws):
            return None, True
        if not ws.submits_wait:
            return None
        with self.lock:
            got = self.intake.take_first_locked() if self.jobs.cap == 0 else None
            if not self.intake.queue:
                self._submits_wait_locked(False)
        if got is None:
            return None
        item, w = got
        w.wake()
        return item, True

    # -- submitting --

    def _refusal_locked(self) -> BaseException | None:
        """Why a submit is refused now (closed first, then cancelled), or None if it is not."""
        if self.closed:
            return ClosedChannelError(f"send on closed channel: {self.name} is closed")
        err = None if self.ctx is None else self.ctx.err()
        if err is None and self.jobs_closed:
            err = Canceled(f"{self.name} was cancelled")
        return err

    def close_intake(self) -> None:
        """Refuse further submits and close the job channel; the workers drain it.

        Makes sure someone will run the jobs already queued: an unstarted
        pool is started, and a DynamicPool left with no worker gets one.
        """
        n = 0
        with self.lock:
            if not self.closed:
                self.closed = True
                if not self.halted.locked() and len(self.jobs) > 0:
                    if not self.started:
                        n = self._start_locked(None, self.initial_workers)
                    elif self.workers == 0:
                        n = self._reserve_locked(1)
            # Closed before any worker starts, so that a submit waiting now fails
            # rather than slipping in; under the lock, so that nobody sees the
            # channel closed and no worker to drain it.
            refused = self._close_jobs_locked()
            self._finish_locked()
        wake_all(refused)
        self.spawn(n)

    def _close_jobs_locked(self) -> list[Waiter]:
        """Close the job channel (once); the submits still waiting, refused, to wake."""
        if self.jobs_closed:
            return []
        self.jobs_closed = True
        self.jobs.close()
        return self.intake.close_locked()

    # -- stopping --

    def close(self, *, report: bool = True) -> None:
        """The pool's ``close()``: close intake, wait for the workers, close results, report.

        Raises the group of failures if ``report`` (once); whatever
        interrupts the wait propagates, the pool cancelled first.
        """
        if getattr(current, "core", None) is self:
            raise RuntimeError(
                f"{self.name}: close() called from the pool's own thread would wait for itself"
            )
        self.close_intake()
        try:
            self.wg.wait()
        except BaseException:
            self.abort()  # Ctrl-C in close(): what is left is cancelled, as in `with`
            raise
        if self.halted.locked():
            # Cancelled, with no worker left to run the halt (none took a job
            # after the cancellation): count what is queued before returning.
            self.halt()
        self.release_ctx()
        with self.lock:
            errors = None
            if report and self.errors and not self.reported:
                self.reported = True
                errors = list(self.errors)
        if errors:
            n = len(errors)
            raise BaseExceptionGroup(f"{self.name}: {n} job{'s' if n > 1 else ''} failed", errors)

    def wait_stopped(self) -> None:
        """Wait for every worker to stop (after :meth:`abort`), then release the context."""
        self.wg.wait()
        self.release_ctx()

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

        Idempotent. Run in a goroutine once the context ends (registered
        with :func:`~gopool.context.mark_then_go`, whose mark has set
        ``halted`` already), or directly by :meth:`abort`. Never blocks.
        """
        with self.lock:
            # Each step is idempotent, so a second halt (a worker's, close()'s,
            # the goroutine's) finds the channel closed and empty: no flag.
            self._mark_halted()
            refused = self._close_jobs_locked()
            # Under the lock, so that once results() is closed (which needs
            # the lock), every job taken out of the channel has been counted.
            recv_ok = self.jobs.recv_ok
            while recv_ok()[1]:
                self.cancelled += 1
            self._finish_locked()
        wake_all(refused)

    def _mark_halted(self) -> None:
        """Start no more jobs: in the cancelling thread, before the halt runs."""
        self.halted.acquire(False)

    def _halt_in_goroutine(self) -> None:
        """:meth:`halt`, run in a goroutine of the pool's own once the context ends."""
        current.core = self
        try:
            self.halt()
        finally:
            current.core = None

    def abort(self) -> None:
        """Cancel the work not yet run: the pool's own context, then the halt."""
        self.release_ctx()
        self.halt()

    def _finish_locked(self) -> None:
        """Close ``results()`` if the job channel is closed and no worker thread is left.

        The one place that decides it; idempotent.
        """
        if self.threads == 0 and self.jobs_closed and not self.results_closed:
            self.results_closed = True
            self.results.close()

    def worker_exited(self, ws: WorkerState, told_to_quit: bool) -> None:
        """A worker thread leaves: its counts move here, and results() may close."""
        with self.lock:
            if not told_to_quit:  # else quit_for() did it
                self.threads -= 1
                self.workers -= 1
            self.worker_states.remove(ws)
            self.completed += ws.completed
            self.failed += ws.failed
            self._retire_figures_locked(ws)
            if self.threads == 0:
                self.ended_at = _monotonic()
                if self.stalls is not None:
                    self.stalls.cancel_locked()
            self._finish_locked()
        self.wg.done()

    def _retire_figures_locked(self, ws: WorkerState) -> None:
        """Keep the last jobs of a leaving worker with those of the workers gone before it."""
        if ws.window:
            merged = sorted(itertools.chain(self.window, last_jobs(ws)))
            self.window = deque(merged, maxlen=LATENCY_WINDOW)

    # -- accounting, called by the workers --

    def record_failure(self, seq: int, job: Any, exc: BaseException) -> object:
        """Record a handler's exception (for ``close()`` to raise), with a note naming the job."""
        try:
            exc.add_note(f"{self.name} job #{seq} failed: {repr_job(job)}")
        except Exception:  # pragma: no cover - a handler that broke __notes__
            pass
        with self.lock:
            self.failed += 1
            self.errors.append(exc)
        return FAILED

    def add_cancelled(self) -> None:
        with self.lock:
            self.cancelled += 1

    # -- DynamicPool's workers --

    def add_worker(self, max_workers: int) -> bool:
        """One more worker, up to ``max_workers``; False at the maximum, closed or halted."""
        self.check_executor()
        n = 0
        with self.lock:
            if self.closed or self.halted.locked():
                return False
            if not self.started:
                n = self._start_locked(None, 0)
            if n < 0 or self.workers >= max_workers:
                added = False
            elif self.pending_quits:
                # A worker told to leave has not left yet: it stays instead,
                # so that threads never outnumber max_workers either.
                self.pending_quits -= 1
                self.workers += 1
                added = True
            else:
                n = self._reserve_locked(1)
                added = True
        self.spawn(n)
        return added

    def remove_worker(self) -> bool:
        """Tell one worker to leave after its current job; False if none, closed or halted."""
        with self.lock:
            if self.workers == 0 or self.closed or self.halted.locked():
                return False
            self.workers -= 1
            self.pending_quits += 1
            for ws in self.worker_states:
                ws.quits_pending = True
            assert self.signal is not None
            # If the signal does not fit, enough are queued to wake an idle
            # worker; a busy one sees the pending removal after its job.
            offer(self.signal.send, None)
        return True

    def worker_count(self) -> int:
        with self.lock:
            return self.workers

    # -- what the pool looks like --

    def _state_locked(self) -> str:
        if self.halted.locked():
            return "cancelled"
        if self.closed:
            return "closing" if self.threads else "closed"
        return "running" if self.started else "new"

    def stats(self) -> PoolStats:
        """A :class:`PoolStats` snapshot: counts under ``lock``, figures outside it."""
        now = _monotonic()
        with self.lock:
            state = self._state_locked()
            states = self.worker_states
            completed = self.completed + sum(ws.completed for ws in states)
            failed = self.failed + sum(ws.failed for ws in states)
            workers = [(ws.id, ws.name, ws.job, ws.since, ws.phase, ws.beat) for ws in states]
            windows = [list(self.window), *(last_jobs(ws) for ws in states)]
            counts = (
                self.intake.accepted,
                len(self.jobs),
                completed,
                failed,
                self.cancelled,
                self.workers,
                self.intake.blocked(),
            )
            if state in ("closed", "cancelled") and self.threads == 0 and self.ended_at:
                now = self.ended_at  # a finished pool's figures stay as they were at the end
            started_at = self.started_at if self.started else now
        return summarize(
            self.name,
            state,
            counts,
            workers,
            windows,
            now=now,
            started_at=started_at,
            stall_after=None if self.stalls is None else self.stalls.stall_after,
            repr_job=repr_job,
        )

    def dropped(self) -> tuple[int, int] | None:
        """The pool object is gone, or the interpreter exits, while still open: cancel it.

        Returns ``(queued, in_flight)``, the jobs that will never finish, or
        None if the pool was closed already.
        """
        with self.lock:
            if self.closed:
                return None
            queued = len(self.jobs) + self.intake.blocked()
            in_flight = sum(1 for ws in self.worker_states if ws.job is not None)
        self.abort()
        return queued, in_flight
