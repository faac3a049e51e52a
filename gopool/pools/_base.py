"""The public base of every pool: arguments checked once, and the interface the pools share.

:class:`PoolBase` checks a pool's arguments (sizes, handler, executor,
stall watch) in one place and builds its :class:`~gopool.pools._core.Core`;
each pool class says only what differs: its argument names, and its
:class:`~gopool.pools._core.Variant` (``WorkerPool``'s ``Result``
wrapping, ``RateLimitedPool``'s limiter, ``DynamicPool``'s workers added at
runtime). Everything a user calls on a pool (start,
submit, results, close, map, ``with``, stats, repr) is written here, once.

Invariants: a pool object holds its core and its finalizer, nothing else
shared; the core never refers back to the pool, so a pool that nobody
references is collected and its finalizer cancels what it would never run
(see :mod:`gopool.pools._registry`). A pool is registered as open from its
creation until ``close()`` (or its ``with`` block, or its ``map()``) has
ended, or it is collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from types import TracebackType
from typing import ClassVar, Generic, Self, TypedDict, TypeVar

from .._checks import check_callable, check_count
from ..chan import RecvChan
from ..context import Context
from ._core import Core
from ._map import map_results
from ._registry import forget, on_new_pool, register
from ._stalls import check_stall_after
from ._variant import Variant
from .stats import PoolStats, WorkerStats

__all__ = ["Options", "PoolBase", "default_buffer", "on_new_pool"]

T = TypeVar("T")
R = TypeVar("R")

_Core = Core
"""The core's class under its former name: ``benchmarks/bench_pools.py`` switches the
per-job stats off through ``_Core.track_jobs``."""


class Options(TypedDict, total=False):
    """The keyword arguments every pool takes (see :class:`~gopool.pools.Pool`)."""

    executor: Executor | None
    stall_after: float | None
    on_stall: Callable[[WorkerStats], object] | None


def default_buffer(workers: int) -> int:
    """The job (and result) buffer a pool gets when ``buffer=None``.

    At least the article's ``workers * 2``, and never below 1024: with a
    small buffer nearly every job parks and wakes a thread, which costs more
    than a trivial job itself (see ``benchmarks/bench_pools.py``).
    """
    return max(workers * 2, 1024)


class PoolBase(Generic[T, R]):
    """What every pool has: start, submit, results, close, map, ``with``, stats, repr."""

    __slots__ = ("__weakref__", "_core", "_finalizer")

    # How the pool's constructor names its arguments, for the errors.
    _workers_arg: ClassVar[str] = "workers"
    _buffer_arg: ClassVar[str] = "buffer"
    _process_arg: ClassVar[str] = "process"
    _buffer_optional: ClassVar[bool] = True
    """Whether ``buffer=None`` picks :func:`default_buffer` (else it is refused)."""

    def __init__(
        self,
        workers: int,
        process: Callable[[T], R],
        *,
        buffer: int | None = None,
        executor: Executor | None = None,
        stall_after: float | None = None,
        on_stall: Callable[[WorkerStats], object] | None = None,
    ) -> None:
        """Check the arguments and build the pool; ``TypeError``/``ValueError`` naming each.

        ``workers`` is the number of workers (a ``DynamicPool``'s most);
        ``buffer`` None picks :func:`default_buffer` (where the pool has no
        default of its own). What the pool changes in the shared machinery
        comes from :meth:`_variant`.
        """
        name = type(self).__name__
        workers = check_count(workers, f"{name}: {self._workers_arg}", 1)
        size = (
            default_buffer(workers)
            if buffer is None and self._buffer_optional
            else check_count(buffer, f"{name}: {self._buffer_arg}", 0)
        )
        check_callable(process, f"{name}: {self._process_arg}")
        if executor is not None and not isinstance(executor, Executor):
            raise TypeError(
                f"{name}: executor must be a concurrent.futures.Executor, not {executor!r}"
            )
        seconds = check_stall_after(stall_after, name)
        if on_stall is not None:
            check_callable(on_stall, f"{name}: on_stall")
        variant = self._variant()
        core = Core(name, process, workers, size, executor, seconds, on_stall, variant)
        self._core = core
        self._finalizer = register(self, core)

    def _variant(self) -> Variant:
        """What this kind of pool changes in the shared machinery (see :class:`Variant`)."""
        return Variant()

    def stats(self) -> PoolStats:
        """A frozen snapshot of the pool's counts, throughput, latency and workers.

        The counts are taken together under the pool's lock, so they agree
        (see :class:`~gopool.pools.PoolStats`: ``submitted`` is exact at
        every moment, and once the pool is closed, ``completed + failed +
        cancelled == submitted``). Each worker's
        :class:`~gopool.pools.WorkerStats` says which job it runs, for how
        long, and whether it is stalled (``stall_after``). Safe from any
        thread, at any time, also on a closed pool; never blocks beyond a
        short critical section. Costs O(workers * 1,024) at most: call it a
        few times a second, not per job.
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
        ended (the closed check comes first). Interrupted while blocked
        (Ctrl-C), it withdraws: the job is not accepted.
        """
        core = self._core
        if core.check_job is not None:
            core.check_job(job)
        err = core.intake.put(job, None)
        if err is not None:
            raise err

    async def async_submit(self, job: T) -> None:
        """Queue ``job`` from an asyncio task; as :meth:`submit`, without blocking the loop.

        Waits while the job buffer is full, and raises what :meth:`submit`
        raises, when it does. Cancelling the task withdraws a waiting
        submit (the job is not accepted) and ``CancelledError`` propagates;
        if the pool accepted the job before the cancellation could withdraw
        it, the submit stands: it returns, and the task's next ``await``
        raises ``CancelledError``. A task reads the results with ``async
        for r in pool.results()``.
        """
        core = self._core
        if core.check_job is not None:
            core.check_job(job)
        err = await core.intake.async_put(job, None)
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
        soon as the workers have stopped.

        Interrupted while it waits (Ctrl-C, or any exception raised in the
        wait), it cancels what is left, as a ``with`` block whose body
        raised does: no queued job starts any more (they count in
        :attr:`cancelled`), and the exception propagates at once; the jobs
        already running finish in their threads, and a later ``close()``
        waits for them. Raises ``RuntimeError`` if called from one of the
        pool's own workers (it would wait for itself).
        """
        try:
            self._core.close()
        finally:
            self._release()

    def map(self, jobs: Iterable[T], *, ordered: bool = False) -> Iterator[R]:
        """Run every job of ``jobs`` and yield the results; then close the pool.

        ``map()`` consumes the pool: it closes it after the last result, so
        a pool maps once. Calling ``map()`` a second time, or on a closed
        pool, raises at once (``RuntimeError``; ``ClosedChannelError``, a
        kind of it, for a closed pool): make a new pool for each ``map()``.
        Jobs may still be submitted beside a running ``map()``: their
        results come out of it too.

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
        closing the iterator) cancels the jobs not yet run, waits for the
        running ones, and closes the pool. If the pool's context ends, the
        iteration ends early too (see :attr:`cancelled`). However it ends,
        the feeder has stopped by then (one inside ``next(jobs)`` stops as
        soon as that returns, and the iterator waits for it), so no count
        of the pool moves after it. Raises ``TypeError`` at once if ``jobs``
        is not iterable.
        """
        it = iter(jobs)
        self._core.claim_map()
        return map_results(self._core, it, bool(ordered), self.close, self._abandon)

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
        else:
            self._abandon()

    def _abandon(self) -> None:
        """Cancel what is left and wait for the jobs already running; raise no failure."""
        core = self._core
        try:
            core.abort()
            core.close(report=False)
        finally:
            self._release()

    def _release(self) -> None:
        """The pool is closed: no finalizer, nothing to report at exit."""
        self._finalizer.detach()
        forget(self._core)

    def __repr__(self) -> str:
        s = self._core.stats()
        return (
            f"<{type(self).__name__} {s.state} workers={s.workers} queued={s.queued} "
            f"in_flight={s.in_flight} completed={s.completed} failed={s.failed} "
            f"cancelled={s.cancelled}>"
        )
