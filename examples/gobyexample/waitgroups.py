"""Go by Example: WaitGroups, ported line for line to gopool.

https://gobyexample.com/waitgroups (Go by Example is by Mark McGranaghan
and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/waitgroups.py``

To wait for multiple goroutines to finish, we can use a *wait group*.
"""

import fmt

from gopool import WaitGroup, sleep


# This is the function we'll run in every goroutine.
def worker(id: int) -> None:
    fmt.printf("Worker %d starting\n", id)

    # Sleep to simulate an expensive task.
    sleep(1)
    fmt.printf("Worker %d done\n", id)


def main() -> None:
    # This WaitGroup is used to wait for all the
    # goroutines launched here to finish. Pass the
    # WaitGroup itself to functions that use it (in Go,
    # a pointer to it).
    wg = WaitGroup()

    # Launch several goroutines using `WaitGroup.go`.
    # (`wg.go(worker, i)` passes `i` now; a closure
    # `lambda: worker(i)` would read `i` only when it
    # runs, after the loop moved on, where Go 1.22 gives
    # each iteration its own `i`.)
    for i in range(1, 6):
        wg.go(worker, i)

    # Block until all the goroutines started by `wg` are
    # done. A goroutine is done when the function it invokes
    # returns.
    wg.wait()

    # Note that this approach has no straightforward way
    # to propagate errors from workers. For more
    # advanced use cases, consider using gopool.errgroup
    # (Go's golang.org/x/sync/errgroup package).


if __name__ == "__main__":
    main()
