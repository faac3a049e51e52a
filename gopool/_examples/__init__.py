"""The article's six programs, ported line for line onto gopool.

The article is "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala). Each module here is one of its
programs, with a ``main()`` shaped like the Go ``main()``; ``examples/*.py``
in the repository are thin launchers for them. They live inside the package
so that ``python -m gopool`` runs them from any install, editable or not.

Invariants: :data:`clock` is set once, by :func:`run`, before a program
starts any thread, and only read afterwards; every line a program prints
goes through :mod:`gopool._examples.fmt`, one whole line at a time. Ctrl-C
ends a program quietly: :func:`run` returns :data:`INTERRUPTED` and
:func:`exit_with` ends the process without waiting for its goroutines.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import fmt

__all__ = [
    "EXAMPLES",
    "FAST",
    "INTERRUPTED",
    "SOURCE",
    "clock",
    "exit_on_closed_pipe",
    "exit_with",
    "launch",
    "main_of",
    "parser",
    "run",
]

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

INTERRUPTED = 130
"""The exit status after Ctrl-C: what a shell reports for a program ended by SIGINT (128 + 2)."""

SOURCE = "gopool/_examples/{}.py"
"""Where a program's code is, in every install (a wheel has no ``examples/`` folder)."""


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

    Blocks until the program has finished; returns :data:`INTERRUPTED` at
    once if Ctrl-C stops it first. ``SystemExit`` for a bad command line,
    as ``argparse`` does.
    """
    args = parser(name).parse_args(argv)
    clock.second = FAST if args.fast else 1.0
    try:
        main_of(name)()
    except KeyboardInterrupt:
        return INTERRUPTED
    return 0


def launch(name: str) -> NoReturn:
    """What ``python examples/NAME.py`` does: run the example as a program, then exit.

    A reader that goes away ends it quietly (:func:`exit_on_closed_pipe`),
    and so does Ctrl-C (:func:`exit_with`). Process-wide settings are made
    here, never in :func:`run`, which a caller may use in-process.
    """
    exit_on_closed_pipe()
    exit_with(run(name))


def exit_with(status: int) -> NoReturn:
    """End the process with exit ``status``, as a Go program ends.

    After Ctrl-C (:data:`INTERRUPTED`) the program's goroutines may still be
    running, and still printing: as Go does on SIGINT, they are not waited
    for. What was printed is flushed (waiting at most a second for a line
    being written), then the process ends at once (``os._exit``), so no
    goroutine can write into an interpreter that is shutting down. Any
    other status is a normal ``sys.exit``.
    """
    if status != INTERRUPTED:
        sys.exit(status)
    held = fmt.lock.acquire(timeout=1.0)  # no goroutine is in the middle of a line then
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a reader that went away: there is nobody to tell
    finally:
        if held:
            fmt.lock.release()
    os._exit(status)
