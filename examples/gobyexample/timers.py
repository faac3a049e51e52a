"""Go by Example: Timers, ported line for line to gopool.

https://gobyexample.com/timers (Go by Example is by Mark McGranaghan and
Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/timers.py``

We often want to run code at some point in the future, or repeatedly at
some interval. gopool's *timer* and *ticker* (Go's) make both easy. We'll
look first at timers and then at tickers (tickers.py).
"""

import fmt

from gopool import Timer, go, sleep


def main() -> None:
    # Timers represent a single event in the future. You
    # tell the timer how long you want to wait, and it
    # provides a channel that will be notified at that
    # time. This timer will wait 2 seconds.
    timer1 = Timer(2)

    # `timer1.c.recv()` blocks on the timer's channel `c`
    # until it sends a value indicating that the timer
    # fired.
    timer1.c.recv()
    fmt.println("Timer 1 fired")

    # If you just wanted to wait, you could have used
    # `sleep`. One reason a timer may be useful is
    # that you can cancel the timer before it fires.
    # Here's an example of that.
    timer2 = Timer(1)

    def wait2() -> None:
        timer2.c.recv()
        fmt.println("Timer 2 fired")

    go(wait2)
    stop2 = timer2.stop()
    if stop2:
        fmt.println("Timer 2 stopped")

    # Give `timer2` enough time to fire, if it ever
    # was going to, to show it is in fact stopped.
    sleep(2)


if __name__ == "__main__":
    main()
