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
from typing import TypeVar, Unpack

from ._base import Options, PoolBase
from ._variant import Variant

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

    _workers_arg = "max_workers"
    _buffer_optional = False  # its default is the article's 100

    def __init__(
        self,
        max_workers: int,
        process: Callable[[T], R],
        *,
        buffer: int = 100,
        **options: Unpack[Options],
    ) -> None:
        self._max_workers = max_workers
        super().__init__(max_workers, process, buffer=buffer, **options)

    def _variant(self) -> Variant:
        return Variant(initial_workers=1)

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
        return self._core.add_worker(self._max_workers)

    def remove_worker(self) -> bool:
        """Tell one worker to leave after its current job; False if there is none.

        ``worker_count`` drops at once; an idle worker leaves at once, a busy
        one when its job is done (it delivers that job's result first). Also
        False once the pool is stopped or cancelled. Never blocks.
        """
        return self._core.remove_worker()

    @property
    def worker_count(self) -> int:
        """The number of workers running (Go's ``WorkerCount``), leavers excluded."""
        return self._core.worker_count()

    def stop(self) -> None:
        """Stop gracefully (Go's ``Stop``, fixed): every queued job is processed.

        No more submits; if no worker is left while jobs are queued, one is
        added; waits for every worker to finish; closes ``results()``. Then
        raises an ``ExceptionGroup`` of the failures, as
        :meth:`PoolBase.close`. Idempotent.
        """
        PoolBase.close(self)

    close = stop
