"""Go by Example: Tickers, ported line for line to gopool.

https://gobyexample.com/tickers (Go by Example is by Mark McGranaghan and
Eli Bendersky, CC BY 3.0). Run: ``python examples/gobyexample/tickers.py``

Timers (timers.py) are for when you want to do something once in the
future; *tickers* are for when you want to do something repeatedly at
regular intervals. Here's a ticker that ticks periodically until we stop
it.
"""

import fmt
import gotime

from gopool import Chan, Ticker, go, select, sleep


def main() -> None:
    # Tickers use a similar mechanism to timers: a
    # channel that is sent values. Here we'll use
    # `select` on the channel to await the
    # values as they arrive every 500ms.
    ticker = Ticker(0.5)
    done: Chan[bool] = Chan()

    def tocker() -> None:
        while True:
            match select(done.recv, ticker.c.recv):
                case 0, _:  # case <-done
                    return
                case 1, t:  # case t := <-ticker.C
                    fmt.println("Tick at", gotime.Time(t))

    go(tocker)

    # Tickers can be stopped like timers. Once a ticker
    # is stopped it won't receive any more values on its
    # channel. We'll stop ours after 1600ms.
    sleep(1.6)
    ticker.stop()
    done.send(True)
    fmt.println("Ticker stopped")


if __name__ == "__main__":
    main()
