"""What ``python -m gopool`` shows: channels and select at work."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .chan import Chan, default, go, select


def channels_and_select() -> None:
    """A producer, a buffered channel, and a select that also listens for a quit signal."""
    jobs: Chan[int] = Chan(4)
    quit: Chan[None] = Chan()

    def produce() -> None:
        for j in range(1, 6):
            jobs.send(j)
            print(f"sent job {j}")
        jobs.close()

    go(produce)
    for j in jobs:
        print(f"received job {j}, result {j * 2}")
    index, _ = select(quit.recv, default)
    print(f"select chose case {index} (default): nobody asked to quit")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gopool", description=__doc__)
    parser.parse_args(argv)
    print("== channels and select")
    channels_and_select()
    return 0
