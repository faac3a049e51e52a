"""Go's ``fmt.Println``, ``fmt.Print`` and ``fmt.Printf`` for the Go by Example ports.

A port says ``fmt.println("received", msg)`` where the Go program says
``fmt.Println("received", msg)``, and prints what Go prints: ``true`` and
``false`` for booleans, ``<nil>`` for ``None``, ``map[a:1 b:2]`` (keys
sorted, as Go prints maps) for a ``dict``, ``[1 2]`` for a list.

Invariant: each call formats its whole text first and hands it to
``sys.stdout`` in one ``write``, then flushes, as Go's ``fmt`` makes one
write to an unbuffered ``os.Stdout``. So the lines of concurrent goroutines
never mix (``print()`` writes its pieces one by one), and each line is in
the pipe when the call returns, where a reader can time it.
"""

from __future__ import annotations

import sys

__all__ = ["print", "printf", "println", "sprint"]


def sprint(value: object) -> str:
    """``value`` as Go's ``%v`` shows it (see the module docstring); ``str()`` otherwise."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "<nil>"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "map[" + " ".join(f"{sprint(k)}:{sprint(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(sprint(v) for v in value) + "]"
    return str(value)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def println(*args: object) -> None:
    """``fmt.Println``: the operands, spaces between them, then a newline, in one write."""
    _write(" ".join(sprint(a) for a in args) + "\n")


def print(*args: object) -> None:  # Go's name: a port calls it as fmt.print
    """``fmt.Print``: the operands with no newline; a space only between two non-strings."""
    text = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            text += " "
        text += sprint(a)
    _write(text)


def printf(format: str, /, *args: object) -> None:
    """``fmt.Printf`` for the verbs the ports use (``%d``, ``%s``): ``format % args``, one write.

    Raises what ``%`` raises for a format that does not fit its arguments.
    """
    _write(format % args)
