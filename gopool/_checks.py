"""Argument checks shared by every module: one wording for each kind of bad argument.

Every public API refuses a bad argument before it changes anything, with
the built-in exception the package's standards name: ``TypeError`` for a
wrong kind, ``ValueError`` for a bad value. The message starts with
``what``, which names the API and the argument (``"makechan: size"``,
``"Pool: process"``), so it reads the same from every module. ``bool`` is
never accepted where a number is meant, although it is an ``int``.
Durations have their own parser, :mod:`gopool._duration`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["check_bool", "check_callable", "check_count", "check_int", "check_number"]


def check_int(value: object, what: str, kind: str = "an int") -> int:
    """``value`` if it is an ``int`` (not a ``bool``); else ``TypeError``.

    The message reads ``"{what} must be {kind}, not {type}"``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be {kind}, not {type(value).__name__}")
    return value


def check_count(value: object, what: str, minimum: int = 0) -> int:
    """``value`` as an ``int`` of at least ``minimum``: :func:`check_int`, then ``ValueError``."""
    n = check_int(value, what)
    if n < minimum:
        raise ValueError(f"{what} must be >= {minimum}, not {n}")
    return n


def check_number(value: object, what: str, kind: str = "a number") -> float:
    """``value`` as a float if it is a real ``int`` or ``float`` (not a ``bool``, not NaN).

    ``TypeError`` (``"{what} must be {kind}, not {type}"``) for anything
    else, ``ValueError`` (``"{what} is NaN"``) for NaN. Infinities pass.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{what} must be {kind}, not {type(value).__name__}")
    try:
        f = float(value)
    except OverflowError:  # an int beyond any float
        f = math.inf if value > 0 else -math.inf
    if math.isnan(f):
        raise ValueError(f"{what} is NaN")
    return f


def check_bool(value: object, what: str) -> bool:
    """``value`` if it is a ``bool``; else ``TypeError``."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be a bool, not {value!r}")
    return value


def check_callable(fn: object, what: str) -> Callable[..., Any]:
    """``fn`` if it is callable; else ``TypeError("{what}: {fn!r} is not callable")``."""
    if not callable(fn):
        raise TypeError(f"{what}: {fn!r} is not callable")
    return fn
