"""Dynamic worker pool: a port of the article's fifth program, without its bug.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported onto gopool. The Go
program's ``DynamicPool`` is :class:`gopool.pools.DynamicPool` (job buffer
100, at most ten workers, each job a 100 ms sleep, ``--fast``: a
twentieth, returning the job doubled); ``main()`` is the Go ``main()`` line
for line: two workers to start with, then fifty jobs from a goroutine that
adds a worker every tenth job and stops the pool.

The Go ``Stop`` closes the job channel and cancels the context at once, so
its workers drop the queued jobs: run for real, it prints between 5 and 15
of its 50 results. ``DynamicPool.stop()`` processes every queued job, so
this prints all 50.

Prints ``Workers: 2``, five ``Added worker, total: 3`` lines (3 to 7) and
fifty ``Result: 14`` lines, the results in an order that varies.
"""

from __future__ import annotations

from gopool._examples import clock, fmt
from gopool.chan import go
from gopool.pools import DynamicPool
from gopool.timers import sleep


def process(job: int) -> int:
    sleep(100 * clock.millisecond)
    return job * 2


def main() -> None:
    pool = DynamicPool[int, int](10, process, buffer=100)

    # Start with 2 workers
    pool.add_worker()
    pool.add_worker()

    fmt.println("Workers:", pool.worker_count)

    # Add more workers based on load
    def submit_and_scale() -> None:
        for i in range(50):
            pool.submit(i)

            # Scale up if needed
            if i % 10 == 0 and pool.add_worker():
                fmt.println("Added worker, total:", pool.worker_count)
        pool.stop()

    go(submit_and_scale)

    for result in pool.results():
        fmt.println("Result:", result)
