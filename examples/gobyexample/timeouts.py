"""Go by Example: Timeouts, ported line for line to gopool.

https://gobyexample.com/timeouts (Go by Example is by Mark McGranaghan and
Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/timeouts.py``

*Timeouts* matter for programs that connect to external resources or that
otherwise need to bound execution time. Channels and ``select`` make them
easy.
"""

import fmt

from gopool import Chan, after, go, select, sleep


def main() -> None:
    # For our example, suppose we're executing an external
    # call that returns its result on a channel `c1`
    # after 2s. Note that the channel is buffered, so the
    # send in the goroutine is nonblocking. This is a
    # common pattern to prevent goroutine leaks in case the
    # channel is never read.
    c1: Chan[str] = Chan(1)

    def call1() -> None:
        sleep(2)
        c1.send("result 1")

    go(call1)

    # Here's the `select` implementing a timeout.
    # `c1.recv` awaits the result and `after(1).recv`
    # awaits a value to be sent after the timeout of
    # 1s. Since `select` proceeds with the first
    # receive that's ready, we'll take the timeout case
    # if the operation takes more than the allowed 1s.
    match select(c1.recv, after(1).recv):
        case 0, res:  # case res := <-c1
            fmt.println(res)
        case 1, _:  # case <-time.After(1 * time.Second)
            fmt.println("timeout 1")

    # If we allow a longer timeout of 3s, then the receive
    # from `c2` will succeed and we'll print the result.
    c2: Chan[str] = Chan(1)

    def call2() -> None:
        sleep(2)
        c2.send("result 2")

    go(call2)
    match select(c2.recv, after(3).recv):
        case 0, res:  # case res := <-c2
            fmt.println(res)
        case 1, _:  # case <-time.After(3 * time.Second)
            fmt.println("timeout 2")


if __name__ == "__main__":
    main()
