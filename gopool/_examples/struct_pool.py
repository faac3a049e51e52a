"""Worker pool with struct: a port of the article's second program.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported onto gopool. The Go
program's ``Job``, ``Result`` and ``WorkerPool`` (``NewWorkerPool``,
``Start``, ``worker``, ``Submit``, ``Results``, ``Close``) are
:class:`gopool.pools.Job`, :class:`gopool.pools.Result` and
:class:`gopool.pools.WorkerPool`; its ``processJob`` is the handler below,
and ``main()`` is the Go ``main()`` line for line: three workers, a job
buffer of 100, ten jobs submitted from a goroutine that then closes the
pool, results collected until the pool closes them.

Prints ten lines ``Job 2: Processed: data-2``, in an order that varies.
"""

from __future__ import annotations

from gopool._examples import clock, fmt
from gopool.chan import go
from gopool.context import background
from gopool.pools import Job, WorkerPool
from gopool.timers import sleep


def process_job(job: Job) -> str:
    sleep(100 * clock.millisecond)  # Simulate work
    return f"Processed: {job.payload}"  # the pool wraps it: Result(job_id=job.id, output=...)


def main() -> None:
    ctx = background()
    pool = WorkerPool(3, 100, process_job)
    pool.start(ctx)

    # Submit jobs
    def submit_jobs() -> None:
        for i in range(10):
            pool.submit(Job(id=i, payload=f"data-{i}"))
        pool.close()

    go(submit_jobs)

    # Collect results
    for result in pool.results():
        fmt.printf("Job %d: %s\n", result.job_id, result.output)
