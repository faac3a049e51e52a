"""The article's "Generic Worker Pool": ``Pool[T, R]`` running ``process(job) -> R``.

Invariants: every accepted job either puts ``process(job)`` into
``results()``, or has its exception recorded for ``close()`` to raise, or,
if the context ended first, is counted in ``cancelled``. A handler's
exception never stops its worker.
"""

from __future__ import annotations

from typing import TypeVar

from ._base import PoolBase

__all__ = ["Pool"]

T = TypeVar("T")
R = TypeVar("R")


class Pool(PoolBase[T, R]):
    """Go's ``Pool[T, R]``: ``workers`` goroutines applying ``process`` to every job.

    An exception raised by ``process`` is recorded, not delivered: the job
    puts nothing into ``results()``, its worker goes on, and ``close()``
    raises an ``ExceptionGroup`` of every failure once all workers have
    stopped, each exception with a note naming its job.

    ``buffer`` sizes the job channel and the results channel; None picks
    :func:`~gopool.pools._base.default_buffer` (at least ``workers * 2``, the
    article's size, and at least 1024, for throughput).

    Side by side with the article::

        pool := NewPool[string, int](3, f)      pool = Pool[str, int](3, f)
        pool.Start(context.Background())        pool.start()
        go func() {                             def produce():
            for _, w := range words {               for w in words:
                pool.Submit(w)                          pool.submit(w)
            }                                       pool.close()
            pool.Close()                        go(produce)
        }()
        for length := range pool.Results() {    for length in pool.results():

    Safe patterns: a producer in another goroutine and the consumer here (as
    above); or ``for r in pool.map(jobs)`` from a single thread. Submitting
    everything first and reading results afterwards deadlocks once more
    results are pending than ``results()`` holds, as it does in Go. Raises
    ``TypeError`` for a non-int size, a non-callable ``process`` or an
    ``executor`` that is not a ``concurrent.futures.Executor``, ``ValueError``
    for ``workers < 1`` or ``buffer < 0``.

    ``executor`` (every pool takes it): each worker hands its job to the
    executor (``executor.submit(process, job)``) and waits for the result,
    so ``workers`` bounds the jobs in flight while they run in other
    processes (a ``ProcessPoolExecutor``, past the GIL) or on a cluster
    (Dask's ``Client.get_executor()``); backpressure, ``results()``, the
    failures and cancellation behave as on threads. A cancellation cancels
    the futures the workers wait on (a job the executor has already started
    finishes there, and is counted cancelled). The pool never shuts the
    executor down: its owner does. With a ``ProcessPoolExecutor``,
    ``start()`` (or ``map()``) raises ``TypeError`` if ``process`` does not
    pickle; give it ``mp_context=multiprocessing.get_context("forkserver")``
    (or ``"spawn"``): it starts its processes while the pool's threads run,
    and a ``fork()`` from a process running threads can deadlock the child.

    ``stall_after`` (seconds, every pool takes it; None, the default, for
    none): a worker running one job that long without a
    :func:`~gopool.pools.heartbeat` is stalled: ``stats()`` says so, and
    each stall is reported once, to ``on_stall(worker_stats)`` (run in a
    goroutine of its own; what it raises is logged) if given, else as a
    WARNING on the ``"gopool"`` logger naming the pool, the worker, the job
    and for how long. Detected
    by one timer per pool, armed only while a job runs: no polling. Raises
    ``TypeError`` for a ``stall_after`` that is not a number or a
    non-callable ``on_stall``, ``ValueError`` for ``stall_after <= 0``.
    """

    __slots__ = ()
