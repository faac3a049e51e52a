"""Go's ``fmt.Printf`` and ``fmt.Println`` for the examples: whole lines, never interleaved.

Invariant: every call formats its text first, then writes it with a single
``write`` and a ``flush`` while holding :data:`lock`, so the lines of
concurrent goroutines never interleave, and each line is out (even into a
pipe) before the call returns.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["lock", "printf", "println"]

lock = threading.RLock()
"""Held while a line is written. Reentrant, so a caller may hold it to stamp and print at once."""


def printf(format: str, /, *args: object) -> None:
    """``fmt.Printf``: ``format % args`` written to stdout as one piece (``%v`` is ``%s``).

    Blocks only while another thread is writing. Raises what ``%`` raises for
    a format that does not match its arguments.
    """
    text = format % args
    with lock:
        sys.stdout.write(text)
        sys.stdout.flush()


def println(*args: object) -> None:
    """``fmt.Println``: the arguments separated by spaces, then a newline, written as one piece."""
    printf("%s\n", " ".join(str(a) for a in args))
