"""Go by Example: Range over Channels, ported line for line to gopool.

https://gobyexample.com/range-over-channels (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/range_over_channels.py``

``for`` iterates over basic data structures; it can also iterate over the
values received from a channel (Go's ``for v := range ch``).
"""

import fmt

from gopool import Chan


def main() -> None:
    # We'll iterate over 2 values in the `queue` channel.
    queue: Chan[str] = Chan(2)
    queue.send("one")
    queue.send("two")
    queue.close()

    # This `for` iterates over each element as it's
    # received from `queue`. Because we `close`d the
    # channel above, the iteration terminates after
    # receiving the 2 elements.
    for elem in queue:
        fmt.println(elem)


if __name__ == "__main__":
    main()
