"""The article's six programs, ported line for line onto gopool.

The article is "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala). Each module here is one of its
programs, with a ``main()`` shaped like the Go ``main()``; ``examples/*.py``
in the repository are thin launchers for them. They live inside the package
so that ``python -m gopool`` runs them from any install, editable or not.

Invariants: :data:`clock` is set once, by :func:`run`, before a program
starts any thread, and only read afterwards; every line a program prints
goes through :mod:`gopool._examples.fmt`, one whole line at a time.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import threading
from collections.abc import Callable, Sequence

__all__ = ["EXAMPLES", "FAST", "clock", "exit_on_closed_pipe", "main_of", "parser", "run"]

EXAMPLES: dict[str, str] = {
    "basic": "Basic worker pool",
    "struct_pool": "Worker pool with struct",
    "generic": "Generic worker pool",
    "error_handling": "Worker pool with error handling",
    "dynamic": "Dynamic worker pool",
    "rate_limited": "Worker pool with rate limiting",
}
"""Every program, by module name, with the heading the article gives it."""

FAST = 0.05
"""What ``--fast`` multiplies every simulated duration by (twenty times faster)."""


class Clock:
    """Go's time units for the examples: ``sleep(clock.second)`` is ``time.Sleep(time.Second)``.

    ``--fast`` scales the units down, so every simulated piece of work and
    every interval shrinks together and the programs keep their shapes.
    """

    def __init__(self) -> None:
        self.second = 1.0

    @property
    def millisecond(self) -> float:
        """A thousandth of :attr:`second`."""
        return self.second / 1000


clock = Clock()
"""The time units every example uses; set by :func:`run` before a program starts."""


def parser(name: str) -> argparse.ArgumentParser:
    """The command line of one example: ``python examples/NAME.py [--fast]``."""
    if name not in EXAMPLES:
        raise ValueError(f"no example named {name!r}; choose from {', '.join(EXAMPLES)}")
    p = argparse.ArgumentParser(
        prog=f"examples/{name}.py",
        description=f"{EXAMPLES[name]}: the article's Go program, ported onto gopool.",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help=f"scale every sleep and interval by {FAST} (the demo runs this way)",
    )
    return p


def main_of(name: str) -> Callable[[], None]:
    """The ``main()`` of the example called ``name`` (``ValueError`` if there is none)."""
    if name not in EXAMPLES:
        raise ValueError(f"no example named {name!r}; choose from {', '.join(EXAMPLES)}")
    main: Callable[[], None] = importlib.import_module(f"{__name__}.{name}").main
    return main


def exit_on_closed_pipe() -> None:
    """Let a reader that goes away (``| head``) end the program quietly, as it ends a Go one.

    Python ignores ``SIGPIPE`` and raises ``BrokenPipeError`` in whichever
    thread writes next; a command-line program wants the default action.
    Only the main thread can set it, so elsewhere this does nothing.
    """
    if hasattr(signal, "SIGPIPE") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def run(name: str, argv: Sequence[str] | None = None) -> int:
    """Parse an example's command line, set :data:`clock`, run its ``main()``; return 0.

    Blocks until the program has finished. ``SystemExit`` for a bad command
    line, as ``argparse`` does.
    """
    args = parser(name).parse_args(argv)
    exit_on_closed_pipe()
    clock.second = FAST if args.fast else 1.0
    main_of(name)()
    return 0
