"""Go by Example: Stateful Goroutines, ported line for line to gopool.

https://gobyexample.com/stateful-goroutines (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/stateful_goroutines.py``

In the previous example we used explicit locking with mutexes
(mutexes.py) to synchronize access to shared state across multiple
goroutines. Another option is to use the built-in synchronization of
goroutines and channels to achieve the same result. This channel-based
approach aligns with Go's ideas of sharing memory by communicating and
having each piece of data owned by exactly 1 goroutine.
"""

import random
from dataclasses import dataclass

import fmt

from gopool import Chan, atomic, go, select, sleep


# In this example our state will be owned by a single
# goroutine. This will guarantee that the data is never
# corrupted with concurrent access. In order to read or
# write that state, other goroutines will send messages
# to the owning goroutine and receive corresponding
# replies. These `ReadOp` and `WriteOp` classes
# encapsulate those requests and a way for the owning
# goroutine to respond.
@dataclass
class ReadOp:
    key: int
    resp: Chan[int]


@dataclass
class WriteOp:
    key: int
    val: int
    resp: Chan[bool]


def main() -> None:
    # As before we'll count how many operations we perform.
    read_ops = atomic.Uint64()
    write_ops = atomic.Uint64()

    # The `reads` and `writes` channels will be used by
    # other goroutines to issue read and write requests,
    # respectively.
    reads: Chan[ReadOp] = Chan()
    writes: Chan[WriteOp] = Chan()

    # Here is the goroutine that owns the `state`, which
    # is a map as in the previous example but now private
    # to the stateful goroutine. This goroutine repeatedly
    # selects on the `reads` and `writes` channels,
    # responding to requests as they arrive. A response
    # is executed by first performing the requested
    # operation and then sending a value on the response
    # channel `resp` to indicate success (and the desired
    # value in the case of `reads`).
    def owner() -> None:
        state: dict[int, int] = {}
        while True:
            match select(reads.recv, writes.recv):
                case 0, read:  # case read := <-reads
                    read.resp.send(state.get(read.key, 0))
                case 1, write:  # case write := <-writes
                    state[write.key] = write.val
                    write.resp.send(True)

    go(owner)

    # This starts 100 goroutines to issue reads to the
    # state-owning goroutine via the `reads` channel.
    # Each read requires constructing a `ReadOp`, sending
    # it over the `reads` channel, and then receiving the
    # result over the provided `resp` channel.
    for _ in range(100):

        def reader() -> None:
            while True:
                read = ReadOp(key=random.randrange(5), resp=Chan())
                reads.send(read)
                read.resp.recv()
                read_ops.add(1)
                sleep(0.001)

        go(reader)

    # We start 10 writes as well, using a similar
    # approach.
    for _ in range(10):

        def writer() -> None:
            while True:
                write = WriteOp(key=random.randrange(5), val=random.randrange(100), resp=Chan())
                writes.send(write)
                write.resp.recv()
                write_ops.add(1)
                sleep(0.001)

        go(writer)

    # Let the goroutines work for a second.
    sleep(1)

    # Finally, capture and report the op counts.
    read_ops_final = read_ops.load()
    fmt.println("readOps:", read_ops_final)
    write_ops_final = write_ops.load()
    fmt.println("writeOps:", write_ops_final)


if __name__ == "__main__":
    main()
