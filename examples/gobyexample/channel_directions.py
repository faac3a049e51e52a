"""Go by Example: Channel Directions, ported line for line to gopool.

https://gobyexample.com/channel-directions (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/channel_directions.py``

When using channels as function parameters, you can say whether a channel
is meant only to send or only to receive values: ``SendChan[T]`` is Go's
``chan<- T`` and ``RecvChan[T]`` is ``<-chan T``. A type checker (mypy)
then holds the program to it.
"""

import fmt

from gopool import Chan, RecvChan, SendChan


# This `ping` function only accepts a channel for sending
# values. It would be a type error (reported by mypy) to try
# to receive on this channel.
def ping(pings: SendChan[str], msg: str) -> None:
    pings.send(msg)


# The `pong` function accepts one channel for receives
# (`pings`) and a second for sends (`pongs`).
def pong(pings: RecvChan[str], pongs: SendChan[str]) -> None:
    msg = pings.recv()
    assert msg is not None  # recv() gives None only once pings is closed
    pongs.send(msg)


def main() -> None:
    pings: Chan[str] = Chan(1)
    pongs: Chan[str] = Chan(1)
    ping(pings, "passed message")
    pong(pings, pongs)
    fmt.println(pongs.recv())


if __name__ == "__main__":
    main()
