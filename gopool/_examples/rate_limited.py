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

The Go workers are numbered 0 to 4 by the loop that starts them; here a
worker prints the number the pool gives it, 1 to 5, which is the number
the live view (``python -m gopool rate_limited --live``) shows beside it.

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


def worker_id(pool: RateLimitedPool[int, int]) -> int:
    """The pool's number for the worker running this call: 1 to 5, as its stats show it."""
    me = threading.current_thread().name
    return next(w.id for w in pool.stats().per_worker if w.name == me)


def main() -> None:
    ctx = background()
    num_workers = 5
    num_jobs = 10
    rate_limit = 2 * clock.second  # 1 job per 2 seconds per worker: 1 per 400 ms in all

    def process(job: int) -> int:
        # The pool has waited for the rate limiter before calling this.
        with fmt.lock:  # stamp and print as one, so the printed times never go backwards
            fmt.printf(
                "Worker %d processing job %d at %s\n",
                worker_id(pool),
                job,
                datetime.now().strftime("%H:%M:%S.%f")[:-3],  # Go's "15:04:05.000"
            )
        return job * 2

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
