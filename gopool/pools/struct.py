"""The article's "Worker Pool with Struct": ``Job`` in, ``Result`` out.

Invariants: every accepted :class:`~gopool.pools.Job` yields exactly one
:class:`~gopool.pools.Result` in ``results()`` (its ``error`` set if the
handler raised) unless the context ended first, in which case it is counted
in ``cancelled``. A handler's exception never stops its worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack

from ._base import Options, PoolBase
from ._variant import Variant
from .job import Job, Result

__all__ = ["WorkerPool"]


def _ok(job: Job, output: Any) -> Result:
    return Result(job.id, output)


def _failed(job: Job, exc: BaseException) -> Result:
    return Result(job.id, None, exc)


def _check_job(job: object) -> None:
    if not isinstance(job, Job):
        raise TypeError(f"WorkerPool takes Job objects, not {type(job).__name__}")


class WorkerPool(PoolBase[Job, Result]):
    """Go's ``WorkerPool``: ``workers`` goroutines turning :class:`Job` into :class:`Result`.

    ``handler(job)`` computes the output (Go's ``processJob``); what it
    returns becomes ``Result(job.id, output)``, and an exception it raises
    becomes ``Result(job.id, error=exc)``: every job yields one result, and
    no exception stops a worker. ``job_buffer`` sizes the job channel and the
    results channel, as in Go's ``NewWorkerPool``.

    Side by side with the article::

        pool := NewWorkerPool(3, 100)           pool = WorkerPool(3, 100, handler)
        pool.Start(ctx)                         pool.start(ctx)
        go func() {                             def produce():
            for i := 0; i < 10; i++ {               for i in range(10):
                pool.Submit(Job{ID: i, ...})            pool.submit(Job(i, f"data-{i}"))
            }                                       pool.close()
            pool.Close()                        go(produce)
        }()
        for result := range pool.Results() {    for result in pool.results():
            ...                                     ...

    Or, from a single thread, ``for result in pool.map(jobs): ...``. As a
    context manager, ``with WorkerPool(...) as pool:`` starts it and closes
    it on exit. ``executor`` runs ``handler`` elsewhere, as for
    :class:`~gopool.pools.Pool` (an exception from there lands in
    ``Result.error`` all the same), and ``stall_after`` and ``on_stall``
    watch for stalled workers, as for :class:`~gopool.pools.Pool` (a
    handler's exception counts in ``stats().failed``). Raises ``TypeError`` for a non-int size,
    a non-callable handler or a bad ``executor``, ``ValueError`` for
    ``workers < 1`` or ``job_buffer < 0``.
    """

    __slots__ = ()

    _buffer_arg = "job_buffer"
    _buffer_optional = False  # the article's NewWorkerPool takes a size
    _process_arg = "handler"

    def __init__(
        self,
        workers: int,
        job_buffer: int,
        handler: Callable[[Job], Any],
        **options: Unpack[Options],
    ) -> None:
        super().__init__(workers, handler, buffer=job_buffer, **options)

    def _variant(self) -> Variant:
        return Variant(wrap_result=_ok, wrap_error=_failed, check_job=_check_job)

    def submit(self, job: Job) -> None:
        """Queue ``job`` (Go's ``Submit``); see :meth:`PoolBase.submit`.

        Raises ``TypeError`` if ``job`` is not a :class:`Job`.
        """
        super().submit(job)
