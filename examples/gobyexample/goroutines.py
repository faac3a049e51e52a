"""Go by Example: Goroutines, ported line for line to gopool.

https://gobyexample.com/goroutines (Go by Example is by Mark McGranaghan
and Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/goroutines.py``

A *goroutine* is a lightweight thread of execution; gopool's ``go`` runs
one on a daemon thread.
"""

import fmt

from gopool import go, sleep


def f(from_: str) -> None:
    for i in range(3):
        fmt.println(from_, ":", i)


def main() -> None:
    # Suppose we have a function call `f(s)`. Here's how
    # we'd call that in the usual way, running it
    # synchronously.
    f("direct")

    # To invoke this function in a goroutine, use
    # `go(f, s)`. This new goroutine will execute
    # concurrently with the calling one.
    go(f, "goroutine")

    # You can also start a goroutine for an anonymous
    # function call.
    go(lambda msg: fmt.println(msg), "going")

    # Our two function calls are running asynchronously in
    # separate goroutines now. Wait for them to finish
    # (for a more robust approach, use a WaitGroup: waitgroups.py).
    sleep(1)
    fmt.println("done")


if __name__ == "__main__":
    main()
