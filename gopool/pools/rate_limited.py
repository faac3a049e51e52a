"""The article's "Worker Pool with Rate Limiting": at most ``rate`` jobs started per second.

Invariants: the rate is the pool's total, shared by all its workers (the
article's comment called it "per worker"; its ``time.Tick`` was a single,
global ticker too): over any span of ``t`` seconds at most ``burst + rate *
t`` jobs start. Waiting for the limiter ends with the pool: a cancellation
wakes a worker waiting there, and the job it held is counted cancelled,
never dropped; nothing keeps ticking after the pool stops (the article's
``time.Tick`` was never stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, Unpack

from .._checks import check_count, check_number
from ..rate import Limiter
from ._base import Options, PoolBase
from ._variant import Variant

__all__ = ["RateLimitedPool"]

T = TypeVar("T")
R = TypeVar("R")


class RateLimitedPool(PoolBase[T, R]):
    """A ``Pool`` whose workers wait on one shared token bucket before each job.

    ``rate`` is the number of jobs the pool as a whole may start per second
    (``math.inf`` for no limit), ``burst`` how many may start at once after
    an idle spell. Each worker takes a job, then waits for a token
    (:meth:`gopool.rate.Limiter.wait` with the pool's context), then runs it:
    the article's ``select { case <-limiter: case <-ctx.Done(): return }``,
    except that the job is counted cancelled instead of vanishing. The
    article's limiter ``time.Tick(rateLimit / numWorkers)`` is
    ``RateLimitedPool(5, f, rate=numWorkers / rateLimit)`` here.

    Otherwise as :class:`~gopool.pools.Pool`: results, failures raised by
    ``close()``, ``map()``, ``executor`` (the token is taken in the worker
    thread, before the job is handed to the executor), ``stall_after`` and
    ``on_stall`` (the wait for a token is not counted towards a stall: the
    stall clock starts with the job). Raises ``TypeError`` for a non-number rate, a
    non-int size or a non-callable ``process``; ``ValueError`` for a rate
    that is not positive, ``burst < 1``, ``workers < 1`` or ``buffer < 0``.
    """

    __slots__ = ("_limiter",)

    def __init__(
        self,
        workers: int,
        process: Callable[[T], R],
        *,
        rate: float,
        burst: int = 1,
        buffer: int | None = None,
        **options: Unpack[Options],
    ) -> None:
        jobs_per_second = check_number(rate, "RateLimitedPool: rate", "a number of jobs per second")
        if jobs_per_second <= 0:
            raise ValueError(f"RateLimitedPool: rate must be > 0 jobs per second, not {rate!r}")
        burst = check_count(burst, "RateLimitedPool: burst", 1)
        self._limiter = Limiter(jobs_per_second, burst)
        super().__init__(workers, process, buffer=buffer, **options)

    def _variant(self) -> Variant:
        return Variant(before_job=self._limiter.wait)

    @property
    def limiter(self) -> Limiter:
        """The token bucket shared by the workers (its limit can be changed at runtime)."""
        return self._limiter
