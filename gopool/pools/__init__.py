"""The worker pools of the article, as classes on gopool's channels, WaitGroup and Context.

Every pool keeps the same rules (see the "Pools" section of the spec): no
accepted job is lost silently (after ``close()``, results delivered +
failures recorded + ``cancelled`` == jobs accepted); a handler's exception
never kills a worker; ``submit`` blocks while the buffer is full and fails
loudly on a closed or cancelled pool; a cancellation stops the workers after
their current job and closes ``results()``; no thread outlives a closed,
stopped or cancelled pool. The pools share one public base
(:mod:`gopool.pools._base`), one state and lifecycle (:mod:`~gopool.pools._core`),
one worker loop (:mod:`~gopool.pools._worker`), one submit side
(:mod:`~gopool.pools._intake`) and one ``map()`` (:mod:`~gopool.pools._map`),
and differ only where the article's pools do.

Every pool reports on itself: ``pool.stats()`` is a frozen
:class:`PoolStats` (counts, throughput, latency percentiles, each worker's
:class:`WorkerStats`); ``stall_after=`` reports a worker stuck on one job,
unless the job calls :func:`heartbeat` now and then.
"""

from ._stalls import heartbeat
from .dynamic import DynamicPool
from .generic import Pool
from .job import Job, Result
from .rate_limited import RateLimitedPool
from .stats import PoolStats, WorkerStats
from .struct import WorkerPool

__all__ = [
    "DynamicPool",
    "Job",
    "Pool",
    "PoolStats",
    "RateLimitedPool",
    "Result",
    "WorkerPool",
    "WorkerStats",
    "heartbeat",
]
