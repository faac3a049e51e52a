"""Go by Example: Channel Synchronization, ported line for line to gopool.

https://gobyexample.com/channel-synchronization (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/channel_synchronization.py``

We can use channels to synchronize execution across goroutines. Here a
blocking receive waits for a goroutine to finish. When waiting for
several goroutines to finish, you may prefer a WaitGroup (waitgroups.py).
"""

import fmt

from gopool import Chan, go, sleep


# This is the function we'll run in a goroutine. The
# `done` channel will be used to notify another
# goroutine that this function's work is done.
def worker(done: Chan[bool]) -> None:
    fmt.print("working...")
    sleep(1)
    fmt.println("done")

    # Send a value to notify that we're done.
    done.send(True)


def main() -> None:
    # Start a worker goroutine, giving it the channel to
    # notify on.
    done: Chan[bool] = Chan(1)
    go(worker, done)

    # Block until we receive a notification from the
    # worker on the channel.
    done.recv()


if __name__ == "__main__":
    main()
