"""Go by Example: Channel Buffering, ported line for line to gopool.

https://gobyexample.com/channel-buffering (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/channel_buffering.py``

By default channels are *unbuffered*: a send completes only when a
receiver takes the value. *Buffered channels* accept a limited number of
values without a corresponding receiver for those values.
"""

import fmt

from gopool import Chan


def main() -> None:
    # Here we make a channel of strings buffering up to
    # 2 values.
    messages: Chan[str] = Chan(2)

    # Because this channel is buffered, we can send these
    # values into the channel without a corresponding
    # concurrent receive.
    messages.send("buffered")
    messages.send("channel")

    # Later we can receive these two values as usual.
    fmt.println(messages.recv())
    fmt.println(messages.recv())


if __name__ == "__main__":
    main()
