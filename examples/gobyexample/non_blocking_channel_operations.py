"""Go by Example: Non-Blocking Channel Operations, ported line for line to gopool.

https://gobyexample.com/non-blocking-channel-operations (Go by Example is
by Mark McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/non_blocking_channel_operations.py``

Basic sends and receives on channels are blocking. However, ``select``
with a ``default`` case gives *non-blocking* sends, receives, and even
non-blocking multi-way selects.
"""

import fmt

from gopool import Chan, default, select


def main() -> None:
    messages: Chan[str] = Chan()
    signals: Chan[bool] = Chan()

    # Here's a non-blocking receive. If a value is
    # available on `messages` then `select` will take
    # the `messages.recv` case with that value. If not
    # it will immediately take the `default` case.
    match select(messages.recv, default):
        case 0, msg:  # case msg := <-messages
            fmt.println("received message", msg)
        case 1, _:  # default
            fmt.println("no message received")

    # A non-blocking send works similarly. Here `msg`
    # cannot be sent to the `messages` channel, because
    # the channel has no buffer and there is no receiver.
    # Therefore the `default` case is selected.
    msg = "hi"
    match select((messages.send, msg), default):
        case 0, _:  # case messages <- msg
            fmt.println("sent message", msg)
        case 1, _:  # default
            fmt.println("no message sent")

    # We can use multiple cases above the `default`
    # case to implement a multi-way non-blocking
    # select. Here we attempt non-blocking receives
    # on both `messages` and `signals`.
    match select(messages.recv, signals.recv, default):
        case 0, msg:  # case msg := <-messages
            fmt.println("received message", msg)
        case 1, sig:  # case sig := <-signals
            fmt.println("received signal", sig)
        case 2, _:  # default
            fmt.println("no activity")


if __name__ == "__main__":
    main()
