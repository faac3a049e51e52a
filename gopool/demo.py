"""What ``python -m gopool`` shows: the article's six worker pools, running.

Runs the six programs of "How to Implement Worker Pools in Go" (by
nawazdhandala), ported onto gopool, in ``--fast`` mode, one after another
under a heading each, or only the ones named on the command line. Their
code is in ``gopool/_examples/``; ``examples/*.py`` in the repository run
them one at a time.

With ``--live``, each program runs at the article's own speed, and every
pool it creates is shown in a live view (:func:`gopool.watch.watch`):
redrawn in place in a terminal, with the program's own lines scrolling
above it; one plain line per change elsewhere. The ``basic`` and
``error_handling`` programs build their pools from channels and
goroutines, with no pool object to watch: they run without a view.

Invariant (``--live``): while the demo runs, ``sys.stdout`` is a
:class:`_LiveOutput` that hands every write to the newest view still
running (which prints it above itself), or to the real stdout when there is
none; the views themselves write to the real stdout.
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import threading
from collections.abc import Sequence
from typing import Any, TextIO, cast

from ._examples import EXAMPLES, FAST, clock, exit_on_closed_pipe, fmt, main_of
from .pools._base import on_new_pool
from .watch import Watch, watch

__all__ = ["LIVE_INTERVAL", "build_parser", "main"]

LIVE_INTERVAL = 0.15
"""How often, in seconds, ``--live`` redraws its view."""


class _LiveOutput(io.TextIOBase):
    """``sys.stdout`` under ``--live``: writes go above the running view, if there is one."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._watches: list[Watch] = []  # guarded by _lock; the views of this example

    def watch(self, pool: Any) -> None:
        """The hook for every new pool: show it."""
        w = watch(pool, file=self._out, interval=LIVE_INTERVAL)
        with self._lock:
            self._watches.append(w)

    def stop_all(self) -> int:
        """Stop every view (each draws its final frame); how many there were."""
        with self._lock:
            watches, self._watches = self._watches, []
        for w in watches:
            w.stop()
        return len(watches)

    def write(self, text: str) -> int:
        with self._lock:
            w = next((w for w in reversed(self._watches) if not w.stopped), None)
        if w is not None:
            return w.write(text)
        n = self._out.write(text)
        return len(text) if n is None else n

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._out, "encoding", None) or "utf-8"


def build_parser() -> argparse.ArgumentParser:
    """The demo's command line. Options are added here (one ``add_argument`` each)."""
    listing = "\n".join(f"  {name:<16}{title}" for name, title in EXAMPLES.items())
    parser = argparse.ArgumentParser(
        prog="python -m gopool",
        description=textwrap.fill(
            'Run the six worker pools of the article "How to Implement Worker Pools in Go" '
            f"(by nawazdhandala), ported onto gopool, with every duration scaled by {FAST}."
        ),
        epilog=f"examples (all of them when none is named):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "examples",
        nargs="*",
        metavar="EXAMPLE",
        help="the examples to run, by name (listed below)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="run at the article's own speed and show each pool in a live view "
        "(redrawn in place in a terminal, plain lines in a pipe; basic and "
        "error_handling have no pool object, and no view)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit status (0). ``SystemExit(2)`` for a bad command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.examples if name not in EXAMPLES]
    if unknown:
        parser.error(
            f"no example named {', '.join(map(repr, unknown))}; choose from {', '.join(EXAMPLES)}"
        )
    names = args.examples or list(EXAMPLES)
    exit_on_closed_pipe()
    if args.live:
        return _run_live(names)
    clock.second = FAST
    for i, name in enumerate(names):
        fmt.printf(
            "%s== %s: %s (examples/%s.py --fast)\n", "\n" if i else "", name, EXAMPLES[name], name
        )
        main_of(name)()
    return 0


def _run_live(names: list[str]) -> int:
    """``--live``: each example at full speed, every pool it makes watched until it ends."""
    clock.second = 1.0
    real = sys.stdout
    live = _LiveOutput(real)
    remove_hook = on_new_pool(live.watch)
    sys.stdout = cast(TextIO, live)
    try:
        for i, name in enumerate(names):
            fmt.printf(
                "%s== %s: %s (examples/%s.py, watched live)\n",
                "\n" if i else "",
                name,
                EXAMPLES[name],
                name,
            )
            try:
                main_of(name)()
            finally:
                watched = live.stop_all()
            if not watched:
                fmt.println("(no pool object in this program: nothing to watch)")
    finally:
        remove_hook()
        sys.stdout = real
    return 0
