"""Go's ``time.Time`` as ``fmt`` prints it, for the Go by Example ports.

gopool's timers deliver ``time.monotonic()`` floats where Go's deliver a
``time.Time``. ``Time(t)`` wraps such a float so that ``fmt.println`` shows
it as Go's ``Time.String()`` does for a time that carries a monotonic
reading: ``2026-01-02 15:04:05.123456789 +0000 UTC m=+0.500123456``, the
wall clock in the local zone, then ``m=`` the seconds since the program
started (since this module was imported).

Invariant: the offset between the wall and the monotonic clock is read
once, at import, so every ``Time`` of a run is placed on one wall clock and
their differences are the monotonic ones.
"""

from __future__ import annotations

import time
from datetime import datetime

__all__ = ["Time", "now"]

_start_ns = time.monotonic_ns()
_wall_minus_monotonic_ns = time.time_ns() - _start_ns


class Time:
    """A moment, from a ``time.monotonic()`` float as gopool's timer channels send it."""

    def __init__(self, monotonic: float) -> None:
        self._ns = round(monotonic * 1e9)

    @classmethod
    def _from_ns(cls, ns: int) -> Time:
        t = cls.__new__(cls)
        t._ns = ns
        return t

    def __str__(self) -> str:
        wall_ns = self._ns + _wall_minus_monotonic_ns
        sec, frac = divmod(wall_ns, 1_000_000_000)
        local = datetime.fromtimestamp(sec).astimezone()
        text = local.strftime("%Y-%m-%d %H:%M:%S")
        if frac:  # Go's .999999999: trailing zeros dropped, no dot for none
            text += "." + f"{frac:09d}".rstrip("0")
        text += local.strftime(" %z %Z")
        m = self._ns - _start_ns
        sign = "-" if m < 0 else "+"
        whole, part = divmod(abs(m), 1_000_000_000)
        return f"{text} m={sign}{whole}.{part:09d}"

    def __repr__(self) -> str:
        return f"gotime.Time({self})"


def now() -> Time:
    """``time.Now()``: the current moment."""
    return Time._from_ns(time.monotonic_ns())
