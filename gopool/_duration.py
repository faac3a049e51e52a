"""Durations as every API of the package takes them: seconds, or a ``timedelta``.

Go's durations are integers of nanoseconds; ours are ``float`` seconds (a
``datetime.timedelta`` is accepted too), as ``time.sleep`` and the stdlib's
timeouts take them. One parser serves every module, so that every API
refuses the same things with the same errors.
"""

from __future__ import annotations

import math
from datetime import timedelta

__all__ = ["Timeout", "optional_seconds", "seconds"]

Timeout = float | timedelta | None
"""A ``timeout=`` argument: seconds, a ``timedelta``, or None for no limit."""


def seconds(value: object, what: str = "duration") -> float:
    """``value`` (a real number of seconds or a ``timedelta``) as a float.

    An ``int`` too large for a float counts as forever (``±inf``). Raises
    ``TypeError`` for anything else (``bool`` included), ``ValueError`` for
    NaN; ``what`` names the argument in the message.
    """
    if type(value) is float:
        d = value
    elif isinstance(value, timedelta):
        return value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            d = float(value)
        except OverflowError:  # an int beyond any float: as far as forever
            d = math.inf if value > 0 else -math.inf
    else:
        raise TypeError(
            f"{what} must be a number of seconds or a timedelta, not {type(value).__name__}"
        )
    if d != d:
        raise ValueError(f"{what} is NaN")
    return d


def optional_seconds(value: object, what: str = "timeout") -> float | None:
    """:func:`seconds`, with None (no limit) passed through."""
    if value is None:
        return None
    return seconds(value, what)
