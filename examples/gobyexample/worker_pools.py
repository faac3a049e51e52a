"""Go by Example: Worker Pools, ported line for line to gopool.

https://gobyexample.com/worker-pools (Go by Example is by Mark McGranaghan
and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/worker_pools.py``

In this example we'll look at how to implement a *worker pool* using
goroutines and channels.
"""

import fmt

from gopool import Chan, RecvChan, SendChan, go, sleep


# Here's the worker, of which we'll run several
# concurrent instances. These workers will receive
# work on the `jobs` channel and send the corresponding
# results on `results`. We'll sleep a second per job to
# simulate an expensive task.
def worker(id: int, jobs: RecvChan[int], results: SendChan[int]) -> None:
    for j in jobs:
        fmt.println("worker", id, "started  job", j)
        sleep(1)
        fmt.println("worker", id, "finished job", j)
        results.send(j * 2)


def main() -> None:
    # In order to use our pool of workers we need to send
    # them work and collect their results. We make 2
    # channels for this.
    num_jobs = 5
    jobs: Chan[int] = Chan(num_jobs)
    results: Chan[int] = Chan(num_jobs)

    # This starts up 3 workers, initially blocked
    # because there are no jobs yet.
    for w in range(1, 4):
        go(worker, w, jobs, results)

    # Here we send 5 `jobs` and then `close` that
    # channel to indicate that's all the work we have.
    for j in range(1, num_jobs + 1):
        jobs.send(j)
    jobs.close()

    # Finally we collect all the results of the work.
    # This also ensures that the worker goroutines have
    # finished. An alternative way to wait for multiple
    # goroutines is to use a WaitGroup (waitgroups.py).
    for _ in range(1, num_jobs + 1):
        results.recv()


if __name__ == "__main__":
    main()
