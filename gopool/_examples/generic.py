"""Generic worker pool: a port of the article's third program.

From "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala), ported onto gopool. The Go
program's ``Pool[T, R]`` is :class:`gopool.pools.Pool`, generic in the
same two types; ``main()`` is the Go ``main()`` line for line: a pool of
three workers that maps strings to their lengths, with the article's
buffer of ``workers*2`` passed explicitly, five words submitted from a
goroutine that then closes the pool.

Prints five lines ``Length: 5`` (three 3s and two 5s), in an order that varies.
"""

from __future__ import annotations

from gopool._examples import fmt
from gopool.chan import go
from gopool.context import background
from gopool.pools import Pool


def main() -> None:
    # String processing pool
    workers = 3
    pool = Pool[str, int](workers, lambda s: len(s), buffer=workers * 2)

    pool.start(background())

    def submit_words() -> None:
        words = ["hello", "world", "foo", "bar", "baz"]
        for w in words:
            pool.submit(w)
        pool.close()

    go(submit_words)

    for length in pool.results():
        fmt.println("Length:", length)
