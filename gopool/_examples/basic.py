"""Basic worker pool: a port of the first program of the article.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported line for line onto gopool:
three workers take ten jobs from a buffered channel, sleep a second each
(``--fast``: a twentieth), and send back the job doubled; a goroutine
closes ``results`` once the ``WaitGroup`` says every worker is done.

Prints ten ``Worker 2 processing job 5`` lines and ten ``Result: 10``
lines, in an order that varies between runs, as the Go program's does.
"""

from __future__ import annotations

from gopool._examples import clock, fmt
from gopool.chan import Chan, RecvChan, SendChan, go
from gopool.sync import WaitGroup
from gopool.timers import sleep


def worker(id: int, jobs: RecvChan[int], results: SendChan[int], wg: WaitGroup) -> None:
    try:  # defer wg.Done()
        for job in jobs:
            fmt.printf("Worker %d processing job %d\n", id, job)
            sleep(clock.second)  # Simulate work
            results.send(job * 2)
    finally:
        wg.done()


def main() -> None:
    num_jobs = 10
    num_workers = 3

    jobs: Chan[int] = Chan(num_jobs)
    results: Chan[int] = Chan(num_jobs)

    wg = WaitGroup()

    # Start workers
    for w in range(1, num_workers + 1):
        wg.add(1)
        go(worker, w, jobs, results, wg)

    # Send jobs
    for j in range(1, num_jobs + 1):
        jobs.send(j)
    jobs.close()

    # Wait for completion
    def wait_and_close() -> None:
        wg.wait()
        results.close()

    go(wait_and_close)

    # Collect results
    for result in results:
        fmt.println("Result:", result)
