"""Go by Example: Rate Limiting, ported line for line to gopool.

https://gobyexample.com/rate-limiting (Go by Example is by Mark McGranaghan
and Eli Bendersky, CC BY 3.0).
Run: ``python examples/gobyexample/rate_limiting.py``

*Rate limiting* (https://en.wikipedia.org/wiki/Rate_limiting) is an
important mechanism for controlling resource utilization and maintaining
quality of service. Goroutines, channels and tickers (tickers.py) support
it well.
"""

import time

import fmt
import gotime

from gopool import Chan, go, tick


def main() -> None:
    # First we'll look at basic rate limiting. Suppose
    # we want to limit our handling of incoming requests.
    # We'll serve these requests off a channel of the
    # same name.
    requests: Chan[int] = Chan(5)
    for i in range(1, 6):
        requests.send(i)
    requests.close()

    # This `limiter` channel will receive a value
    # every 200 milliseconds. This is the regulator in
    # our rate limiting scheme.
    limiter = tick(0.2)

    # By blocking on a receive from the `limiter` channel
    # before serving each request, we limit ourselves to
    # 1 request every 200 milliseconds.
    for req in requests:
        limiter.recv()
        fmt.println("request", req, gotime.now())

    # We may want to allow short bursts of requests in
    # our rate limiting scheme while preserving the
    # overall rate limit. We can accomplish this by
    # buffering our limiter channel. This `bursty_limiter`
    # channel will allow bursts of up to 3 events.
    bursty_limiter: Chan[float] = Chan(3)

    # Fill up the channel to represent allowed bursting.
    for _ in range(3):
        bursty_limiter.send(time.monotonic())

    # Every 200 milliseconds we'll try to add a new
    # value to `bursty_limiter`, up to its limit of 3.
    def refill() -> None:
        for t in tick(0.2):
            bursty_limiter.send(t)

    go(refill)

    # Now simulate 5 more incoming requests. The first
    # 3 of these will benefit from the burst capability
    # of `bursty_limiter`.
    bursty_requests: Chan[int] = Chan(5)
    for i in range(1, 6):
        bursty_requests.send(i)
    bursty_requests.close()
    for req in bursty_requests:
        bursty_limiter.recv()
        fmt.println("request", req, gotime.now())


if __name__ == "__main__":
    main()
