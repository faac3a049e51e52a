"""While a live view is drawn in a terminal, the program's other output goes above it.

A view redrawn in place moves the cursor up over its last frame before
drawing the next. A line that anything else writes to the same terminal in
between (a ``print``, a stall warning on the ``gopool`` logger, a
traceback) would sit inside that span: the redraw would erase it and leave
the top line of the old frame behind. So while at least one terminal view
is live, the standard streams that are terminals (``sys.stdout``,
``sys.stderr``) are replaced by an :class:`Above` stream, and so is the
stream of every logging handler of the root and ``gopool`` loggers that
writes to one of them. An :class:`Above` hands each write to the newest
live view, which prints the text above its frame, to the stream the text
was meant for, and draws the frame again below it.

Invariants: ``_lock`` guards ``_views``, the live terminal views, oldest
first; it is held for no more than reading or changing that list.
``_swap_lock`` serialises :func:`attach` and :func:`detach` and guards
``_swaps``, what was replaced, to put back. The streams are replaced when
the first view arrives and put back when the last one leaves, each only if
it is still the :class:`Above` put there (whoever replaced it since keeps
theirs). Lock order: ``_swap_lock``, then a logging handler's lock (taken
by ``setStream``), then ``_lock`` (taken by a write from that handler).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import Any, Protocol, TextIO

__all__ = ["Above", "attach", "detach", "unwrap"]


class _View(Protocol):
    def write(self, text: str, *, stream: TextIO | None = None) -> int: ...


_lock = threading.Lock()
_views: list[_View] = []
_swap_lock = threading.Lock()
_swaps: list[tuple[Any, TextIO, Above]] = []  # (sys or a handler, what it had, what it has now)


class Above(io.TextIOBase):
    """A stand-in for a terminal stream: text written to it goes above the newest live view.

    With no view live it writes straight to the stream it stands for.
    Everything but writing (``fileno``, ``encoding``, ``isatty``, ...) is
    the real stream's.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with _lock:
            view = _views[-1] if _views else None
        if view is None:
            n = self.stream.write(text)
            return len(text) if n is None else n
        return view.write(text, stream=self.stream)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        if name == "stream":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.stream, name)

    def __repr__(self) -> str:
        return f"<gopool.watch stand-in for {self.stream!r}>"


def unwrap(stream: TextIO) -> TextIO:
    """The real stream behind ``stream`` (``stream`` itself unless it is an :class:`Above`)."""
    while isinstance(stream, Above):
        stream = stream.stream
    return stream


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _handlers() -> list[logging.StreamHandler[Any]]:
    """The stream handlers that may write a ``gopool`` record to a terminal."""
    found: list[logging.StreamHandler[Any]] = []
    for logger in (logging.getLogger(), logging.getLogger("gopool")):
        for h in logger.handlers:
            if type(h) is logging.StreamHandler and h not in found:
                found.append(h)
    return found


def _swap_in() -> list[tuple[Any, TextIO, Above]]:
    """Put an :class:`Above` in place of every terminal stream; what was replaced."""
    swaps: list[tuple[Any, TextIO, Above]] = []
    replaced: dict[int, Above] = {}
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, Above) and _is_terminal(stream):
            above = replaced[id(stream)] = Above(stream)
            setattr(sys, name, above)
            swaps.append((sys, stream, above))
    for h in _handlers():
        above_h = replaced.get(id(h.stream))
        if above_h is not None:
            h.setStream(above_h)
            swaps.append((h, above_h.stream, above_h))
    return swaps


def _swap_out(swaps: list[tuple[Any, TextIO, Above]]) -> None:
    for owner, stream, above in reversed(swaps):
        if owner is sys:
            for name in ("stdout", "stderr"):
                if getattr(sys, name) is above:
                    setattr(sys, name, stream)
        elif owner.stream is above:
            owner.setStream(stream)


def attach(view: _View) -> None:
    """Route the terminal's other output through ``view`` (the newest) until :func:`detach`."""
    global _swaps
    with _swap_lock:
        with _lock:
            _views.append(view)
            first = len(_views) == 1
        if first:
            _swaps = _swap_in()


def detach(view: _View) -> None:
    """Stop routing output through ``view``; after the last view, put the streams back."""
    global _swaps
    with _swap_lock:
        with _lock:
            if view in _views:
                _views.remove(view)
            last = not _views
        if last:
            swaps, _swaps = _swaps, []
            _swap_out(swaps)
