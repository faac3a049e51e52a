"""Go by Example: Channels, ported line for line to gopool.

https://gobyexample.com/channels (Go by Example is by Mark McGranaghan
and Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/channels.py``

*Channels* are the pipes that connect concurrent goroutines. You can send
values into channels from one goroutine and receive those values into
another goroutine.
"""

import fmt

from gopool import Chan, go


def main() -> None:
    # Create a new channel with `Chan()` (Go's `make(chan val-type)`).
    # Channels are typed by the values they convey.
    messages: Chan[str] = Chan()

    # _Send_ a value into a channel with `channel.send(v)`
    # (Go's `channel <- v`). Here we send "ping" to the `messages`
    # channel we made above, from a new goroutine.
    go(lambda: messages.send("ping"))

    # `channel.recv()` (Go's `<-channel`) _receives_ a value from the
    # channel. Here we'll receive the "ping" message
    # we sent above and print it out.
    msg = messages.recv()
    fmt.println(msg)


if __name__ == "__main__":
    main()
