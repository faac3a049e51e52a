"""Go by Example: Closing Channels, ported line for line to gopool.

https://gobyexample.com/closing-channels (Go by Example is by Mark
McGranaghan and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/closing_channels.py``

*Closing* a channel says that no more values will be sent on it, which
tells the channel's receivers that the work is complete.
"""

import fmt

from gopool import Chan, go


# In this example we'll use a `jobs` channel to
# communicate work to be done from the `main()` goroutine
# to a worker goroutine. When we have no more jobs for
# the worker we'll `close` the `jobs` channel.
def main() -> None:
    jobs: Chan[int] = Chan(5)
    done: Chan[bool] = Chan()

    # Here's the worker goroutine. It repeatedly receives
    # from `jobs` with `j, more = jobs.recv_ok()`. In this
    # 2-value form of receive, the `more` value
    # will be `False` if `jobs` has been `close`d and all
    # values in the channel have already been received.
    # We use this to notify on `done` when we've worked
    # all our jobs.
    def worker() -> None:
        while True:
            j, more = jobs.recv_ok()
            if more:
                fmt.println("received job", j)
            else:
                fmt.println("received all jobs")
                done.send(True)
                return

    go(worker)

    # This sends 3 jobs to the worker over the `jobs`
    # channel, then closes it.
    for j in range(1, 4):
        jobs.send(j)
        fmt.println("sent job", j)
    jobs.close()
    fmt.println("sent all jobs")

    # We await the worker using the synchronization
    # approach we saw earlier (channel_synchronization.py).
    done.recv()

    # Reading from a closed channel succeeds immediately,
    # returning the zero value (None here). The second
    # value of `recv_ok()` is `True` if the value received
    # was delivered by a successful send operation to the
    # channel, or `False` if the channel is closed and empty.
    _, ok = jobs.recv_ok()
    fmt.println("received more jobs:", ok)


if __name__ == "__main__":
    main()
