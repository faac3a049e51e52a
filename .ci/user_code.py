"""A user's module, type-checked by .ci/package against an editable install of gopool.

mypy --strict and pyright must accept it as it is, and must reject it once
the last line's annotation is made wrong (proof that they read gopool's
types rather than treating it as Any). The idioms are the README's.
"""

from gopool import Chan, Pool, background, go, select, with_timeout


def send_or_give_up(out: Chan[int], v: int) -> None:
    ctx, cancel = with_timeout(background(), 2.0)
    try:
        i, _ = select(ctx.done().recv, (out.send, v))
        if i == 0:
            ctx.raise_if_done()
    finally:
        cancel()


def lengths(words: list[str]) -> list[int]:
    with Pool[str, int](3, len) as pool:
        return list(pool.map(words, ordered=True))


def produce(ch: Chan[int]) -> None:
    for i in range(3):
        ch.send(i)
    ch.close()


ch = Chan[int](3)
go(produce, ch)
first: int = lengths(["gopool"])[0]
