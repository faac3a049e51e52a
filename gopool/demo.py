"""What ``python -m gopool`` shows: the article's six worker pools, running.

Runs the six programs of "How to Implement Worker Pools in Go" (by
nawazdhandala), ported onto gopool, in ``--fast`` mode, one after another
under a heading each, or only the ones named on the command line. Their
code is in ``gopool/_examples/`` (the heading of each names its file);
``examples/*.py`` in the repository run them one at a time.

With ``--live``, each program runs at the article's own speed (or, with
``--fast`` too, at the demo's), and every pool it creates is shown in a
live view (:func:`gopool.watch.watch`): redrawn in place in a terminal,
with the program's own lines printed above it; one plain line per change
elsewhere. The ``basic`` and ``error_handling`` programs build their pools
from channels and goroutines, with no pool object to watch: they run
without a view.

Ctrl-C ends the demo quietly, with exit status 130 (:func:`main` returns
it; ``python -m gopool`` then exits at once, not waiting for the
goroutines of the program it interrupted), and so does a reader that goes
away (``python -m gopool | head``). :func:`main` changes no process-wide
setting; ``python -m gopool`` does (the SIGPIPE handler).

Invariant (``--live``): every pool made while an example runs is watched
from its creation until the example has ended, when its view draws its
final frame; no view outlives the example that made its pool.
"""

from __future__ import annotations

import argparse
import textwrap
import threading
from collections.abc import Sequence
from typing import Any

from . import __version__
from ._examples import EXAMPLES, FAST, INTERRUPTED, SOURCE, clock, fmt, main_of
from .pools._base import on_new_pool
from .watch import Watch, watch

__all__ = ["LIVE_INTERVAL", "build_parser", "main"]

LIVE_INTERVAL = 0.15
"""How often, in seconds, ``--live`` redraws its view."""


class _Views:
    """Under ``--live``: the views of the pools the running example has made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: list[Watch] = []  # guarded by _lock

    def watch(self, pool: Any) -> None:
        """The hook for every new pool: show it."""
        w = watch(pool, interval=LIVE_INTERVAL)
        with self._lock:
            self._watches.append(w)

    def stop_all(self) -> int:
        """Stop every view (each draws its final frame); how many there were."""
        with self._lock:
            watches, self._watches = self._watches, []
        for w in watches:
            w.stop()
        return len(watches)


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
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"scale every duration by {FAST}: the default, and with --live a faster live view",
    )
    parser.add_argument("--version", action="version", version=f"gopool {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the exit status: 0, or 130 after Ctrl-C.

    ``SystemExit(2)`` for a bad command line, ``SystemExit(0)`` after
    ``--help`` or ``--version``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.examples if name not in EXAMPLES]
    if unknown:
        parser.error(
            f"no example named {', '.join(map(repr, unknown))}; choose from {', '.join(EXAMPLES)}"
        )
    names = args.examples or list(EXAMPLES)
    clock.second = FAST if args.fast or not args.live else 1.0
    how = "watched live" if args.live else "--fast"
    try:
        if args.live:
            _run_live(names, how)
        else:
            for i, name in enumerate(names):
                _heading(i, name, how)
                main_of(name)()
    except KeyboardInterrupt:
        return INTERRUPTED
    return 0


def _heading(i: int, name: str, how: str) -> None:
    source = SOURCE.format(name)
    fmt.printf("%s== %s: %s (%s, %s)\n", "\n" if i else "", name, EXAMPLES[name], source, how)


def _run_live(names: list[str], how: str) -> None:
    """``--live``: each example, every pool it makes watched until it ends."""
    views = _Views()
    remove_hook = on_new_pool(views.watch)
    try:
        for i, name in enumerate(names):
            _heading(i, name, how)
            try:
                main_of(name)()
            finally:
                watched = views.stop_all()
            if not watched:
                fmt.println("(no pool object in this program: nothing to watch)")
    finally:
        remove_hook()
