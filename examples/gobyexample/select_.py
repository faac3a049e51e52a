"""Go by Example: Select, ported line for line to gopool.

https://gobyexample.com/select (Go by Example is by Mark McGranaghan and
Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/select_.py`` (the trailing
underscore keeps this file from shadowing the standard ``select`` module,
which Python would otherwise import from here for every program in this
directory)

Go's *select* lets you wait on multiple channel operations. gopool's
``select(ch.recv, ...)`` returns the index of the case that ran and its
value; ``match`` on that pair reads like Go's ``case`` list.
"""

import fmt

from gopool import Chan, go, select, sleep


def main() -> None:
    # For our example we'll select across two channels.
    c1: Chan[str] = Chan()
    c2: Chan[str] = Chan()

    # Each channel will receive a value after some amount
    # of time, to simulate e.g. blocking RPC operations
    # executing in concurrent goroutines.
    def rpc1() -> None:
        sleep(1)
        c1.send("one")

    go(rpc1)

    def rpc2() -> None:
        sleep(2)
        c2.send("two")

    go(rpc2)

    # We'll use `select` to await both of these values
    # simultaneously, printing each one as it arrives.
    for _ in range(2):
        match select(c1.recv, c2.recv):
            case 0, msg1:  # case msg1 := <-c1
                fmt.println("received", msg1)
            case 1, msg2:  # case msg2 := <-c2
                fmt.println("received", msg2)


if __name__ == "__main__":
    main()
