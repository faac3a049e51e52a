"""Worker pool with rate limiting: a port of the article's sixth program.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported onto gopool. The Go
program's ``rateLimitedWorker`` loop, with its shared ``time.Tick``, is
:class:`gopool.pools.RateLimitedPool`; the body of the loop is
``process`` below, and ``main()`` is the Go ``main()`` line for line: five
workers, ten jobs, one job started every 2 s / 5 = 400 ms (``--fast``: a
twentieth).

Two things differ from the Go code, on purpose. The Go comment says "1 job
per 2 seconds per worker", but one ticker shared by every worker makes the
rate the pool's total: one job per 400 ms, whichever worker takes it; the
pool's ``rate`` says so. And ``time.Tick`` is never stopped, while the
pool stops its limiter when it closes.

Prints ten lines ``Worker 4 processing job 4 at 19:05:57.068`` (the time
of day, to the millisecond, about 400 ms apart) and ten ``Result: 8`` lines.
"""

from __future__ import annotations

import threading
from datetime import datetime

from gopool._examples import clock, fmt
from gopool.chan import go
from gopool.context import background
from gopool.pools import RateLimitedPool
from gopool.rate import every

_worker_ids: dict[int, int] = {}
_worker_ids_lock = threading.Lock()  # guards _worker_ids


def worker_id() -> int:
    """The number of the worker thread running this call: 0, 1, ... in order of first use.

    The Go workers are numbered by the loop that starts them; the pool's
    workers are threads, numbered here as they take their first job.
    """
    me = threading.get_ident()
    with _worker_ids_lock:
        return _worker_ids.setdefault(me, len(_worker_ids))


def process(job: int) -> int:
    # The pool has waited for the rate limiter before calling this.
    with fmt.lock:  # stamp and print as one, so the printed times never go backwards
        fmt.printf(
            "Worker %d processing job %d at %s\n",
            worker_id(),
            job,
            datetime.now().strftime("%H:%M:%S.%f")[:-3],  # Go's "15:04:05.000"
        )
    return job * 2


def main() -> None:
    with _worker_ids_lock:
        _worker_ids.clear()  # this run's workers count from 0 again
    ctx = background()
    num_workers = 5
    num_jobs = 10
    rate_limit = 2 * clock.second  # 1 job per 2 seconds per worker: 1 per 400 ms in all

    pool = RateLimitedPool[int, int](
        num_workers, process, rate=every(rate_limit / num_workers), buffer=num_jobs
    )
    pool.start(ctx)

    # Submit jobs
    def submit_jobs() -> None:
        for i in range(num_jobs):
            pool.submit(i)
        pool.close()  # stops the limiter too: nothing keeps ticking afterwards

    go(submit_jobs)

    for result in pool.results():
        fmt.println("Result:", result)
