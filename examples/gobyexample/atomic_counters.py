"""Go by Example: Atomic Counters, ported line for line to gopool.

https://gobyexample.com/atomic-counters (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/atomic_counters.py``

The primary mechanism for managing state in Go is communication over
channels, as with worker pools (worker_pools.py). There are a few other
options for managing state though. Here we'll look at ``gopool.atomic``
(Go's ``sync/atomic``) for *atomic counters* accessed by multiple
goroutines.
"""

import fmt

from gopool import WaitGroup, atomic


def main() -> None:
    # We'll use an atomic integer type to represent our
    # (always-positive) counter.
    ops = atomic.Uint64()

    # A WaitGroup will help us wait for all goroutines
    # to finish their work.
    wg = WaitGroup()

    # We'll start 50 goroutines that each increment the
    # counter exactly 1000 times.
    for _ in range(50):

        def count() -> None:
            for _ in range(1000):
                # To atomically increment the counter we use `add`.
                ops.add(1)

        wg.go(count)

    # Wait until all the goroutines are done.
    wg.wait()

    # Here no goroutines are writing to `ops`, but using
    # `load` it's safe to atomically read a value even while
    # other goroutines are (atomically) updating it.
    fmt.println("ops:", ops.load())


if __name__ == "__main__":
    main()
