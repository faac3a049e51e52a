"""Go by Example: Mutexes, ported line for line to gopool.

https://gobyexample.com/mutexes (Go by Example is by Mark McGranaghan and
Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/mutexes.py``

In the previous example we saw how to manage simple counter state using
atomic operations (atomic_counters.py). For more complex state we can use
a *mutex* (https://en.wikipedia.org/wiki/Mutual_exclusion) to safely
access data across multiple goroutines.
"""

from dataclasses import dataclass, field

import fmt

from gopool import Mutex, WaitGroup


# Container holds a map of counters; since we want to
# update it concurrently from multiple goroutines, we
# add a `Mutex` to synchronize access.
# Note that a container shares its mutex: pass the
# `Container` itself around (in Go, a pointer to it).
@dataclass
class Container:
    counters: dict[str, int]
    mu: Mutex = field(default_factory=Mutex)

    # Lock the mutex before accessing `counters`; unlock
    # it at the end of the method with a `with` statement
    # (Go's `defer c.mu.Unlock()`).
    def inc(self, name: str) -> None:
        with self.mu:
            self.counters[name] += 1


def main() -> None:
    c = Container(
        # Note that the zero value of a mutex is usable as-is, so no
        # initialization is required here.
        counters={"a": 0, "b": 0},
    )

    wg = WaitGroup()

    # This function increments a named counter
    # in a loop.
    def do_increment(name: str, n: int) -> None:
        for _ in range(n):
            c.inc(name)

    # Run several goroutines concurrently; note
    # that they all access the same `Container`,
    # and two of them access the same counter.
    wg.go(lambda: do_increment("a", 10000))

    wg.go(lambda: do_increment("a", 10000))

    wg.go(lambda: do_increment("b", 10000))

    # Wait for the goroutines to finish
    wg.wait()
    fmt.println(c.counters)


if __name__ == "__main__":
    main()
