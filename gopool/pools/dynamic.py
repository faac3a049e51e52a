"""The article's "Dynamic Worker Pool": workers added (and removed) at runtime.

Invariants: neither ``worker_count`` nor the number of worker threads ever
exceeds ``max_workers``, whatever the number of concurrent ``add_worker``
callers (the check and the increment happen under one lock, where Go's pool
used two separate atomics);
``stop()`` is graceful: every queued job is processed (Go's ``Stop``
cancelled at once and dropped them). Every other rule of the pools holds.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from ..chan import default, select
from ._base import PoolBase, _Core, check_callable, check_count
from .stats import WorkerStats

__all__ = ["DynamicPool"]

T = TypeVar("T")
R = TypeVar("R")


class DynamicPool(PoolBase[T, R]):
    """Go's ``DynamicPool``: between 0 and ``max_workers`` workers, changed at runtime.

    ``start(ctx)`` binds the context and starts one worker;
    ``add_worker()`` starts one more worker, up to ``max_workers``;
    ``remove_worker()`` (not in the article) tells one to leave after its
    current job. ``buffer`` (100, as in the article) sizes the job and the
    results channels. ``stop()`` (also spelled ``close()``) lets the
    workers finish every queued job, adding one worker if none is left.

    Side by side with the article::

        pool := NewDynamicPool(10)              pool = DynamicPool(10, process)
        pool.AddWorker()                        pool.add_worker()
        go func() {                             def produce():
            for i := 0; i < 50; i++ {               for i in range(50):
                pool.Submit(i)                          pool.submit(i)
                if i%10 == 0 && pool.AddWorker()        if i % 10 == 0 and pool.add_worker():
                ...                                         ...
            }                                       pool.stop()
            pool.Stop()                         go(produce)
        }()
        for result := range pool.results {      for result in pool.results():

    Go's ``Stop`` closed the job channel and cancelled at once, so the
    workers dropped whatever was still queued (the article's program
    printed 5 to 15 of its 50 results); this ``stop()`` delivers all 50.
    Exceptions from ``process`` are raised by ``stop()`` in an
    ``ExceptionGroup``, as :class:`~gopool.pools.Pool` does. ``executor``
    runs the jobs elsewhere, and ``stall_after`` and ``on_stall`` watch for
    stalled workers, as for :class:`~gopool.pools.Pool`. Raises
    ``TypeError`` for a non-int size or a non-callable ``process``,
    ``ValueError`` for ``max_workers < 1`` or ``buffer < 0``.
    """

    __slots__ = ("_max_workers",)

    def __init__(
        self,
        max_workers: int,
        process: Callable[[T], R],
        *,
        buffer: int = 100,
        executor: Executor | None = None,
        stall_after: float | None = None,
        on_stall: Callable[[WorkerStats], object] | None = None,
    ) -> None:
        self._max_workers = check_count(max_workers, "DynamicPool: max_workers", 1)
        size = check_count(buffer, "DynamicPool: buffer", 0)
        check_callable(process, "DynamicPool: process")
        # Quit tokens wake idle workers for remove_worker(); a busy worker
        # checks for a pending removal after each job instead.
        self._setup(
            _Core(
                "DynamicPool",
                process,
                initial_workers=1,
                buffer=size,
                quit_tokens=self._max_workers,
                executor=executor,
            ),
            stall_after,
            on_stall,
        )

    @property
    def max_workers(self) -> int:
        """The most workers this pool runs at once."""
        return self._max_workers

    def add_worker(self) -> bool:
        """Start one more worker (Go's ``AddWorker``); False at ``max_workers``.

        Also False once the pool is stopped or cancelled. The first call on a
        pool not started starts it on ``background()``. The count is checked
        and raised under one lock, so concurrent callers never exceed
        ``max_workers``; a worker that :meth:`remove_worker` told to leave
        and that is still finishing its job is kept instead of starting a new
        one, so the pool never runs more than ``max_workers`` threads. Never
        blocks.
        """
        core = self._core
        core.check_executor()
        n = 0
        with core.lock:
            if core.closed or core.halted.locked():
                return False
            if not core.started:
                n = core.start_locked(None, 0)
            if n < 0 or core.workers >= self._max_workers:
                added = False
            elif core.pending_quits:
                # A worker told to leave has not left yet: it stays instead,
                # so that threads never outnumber max_workers either.
                core.pending_quits -= 1
                core.workers += 1
                added = True
            else:
                n = core.reserve_locked(1)
                added = True
        core.spawn(n)
        return added

    def remove_worker(self) -> bool:
        """Tell one worker to leave after its current job; False if there is none.

        ``worker_count`` drops at once; an idle worker leaves at once, a busy
        one when its job is done (it delivers that job's result first). Also
        False once the pool is stopped or cancelled. Never blocks.
        """
        core = self._core
        with core.lock:
            if core.workers == 0 or core.closed or core.halted.locked():
                return False
            core.workers -= 1
            core.pending_quits += 1
        assert core.quit is not None
        # If the token does not fit, enough are queued already to wake an
        # idle worker; a busy one sees the pending removal after its job.
        select((core.quit.send, None), default)
        return True

    @property
    def worker_count(self) -> int:
        """The number of workers running (Go's ``WorkerCount``), leavers excluded."""
        with self._core.lock:
            return self._core.workers

    def stop(self) -> None:
        """Stop gracefully (Go's ``Stop``, fixed): every queued job is processed.

        No more submits; if no worker is left while jobs are queued, one is
        added; waits for every worker to finish; closes ``results()``. Then
        raises an ``ExceptionGroup`` of the failures, as
        :meth:`PoolBase.close`. Idempotent.
        """
        PoolBase.close(self)

    close = stop
