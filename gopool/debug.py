"""Go's two debugging aids: the goroutine dump, and the deadlock report.

:func:`dump` lists every goroutine (thread started by :func:`gopool.go`),
the main thread and any other thread, each with what it is blocked on in
gopool (a channel send or receive, a ``select`` and its cases, a
``WaitGroup.wait``, a ``sleep``...), for how long, and its stack, in the
spirit of the dump a Go program prints on ``SIGQUIT``.
:func:`install_dump_signal` makes a signal print it and carry on.

:func:`set_deadlock_detection` (or ``GOPOOL_DEADLOCK=1``) turns on Go's
"fatal error: all goroutines are asleep - deadlock!": when the main thread
and every other thread are parked in gopool operations with no timeout,
and no timer is pending, the main thread's blocked operation raises
:class:`DeadlockError`, carrying the dump.

The registry of goroutines and parked threads, and the deadlock check
itself, live in :mod:`gopool._goroutines`; this module renders what it
reads there through ``snapshot()``, and gives the check the
:class:`DeadlockError` to raise. Lock order: the dump takes channel locks
(through ``repr``) with no other lock of ours held.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TextIO

from . import _goroutines, _waiter, timers
from ._checks import check_bool, check_int
from ._waiter import Waiter

__all__ = ["DeadlockError", "dump", "install_dump_signal", "set_deadlock_detection"]

DEADLOCK_MESSAGE = "fatal error: all goroutines are asleep - deadlock!"

_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


class DeadlockError(RuntimeError):
    """Every goroutine and the main thread are blocked forever (Go's fatal deadlock error).

    Raised, when deadlock detection is on, by the blocking gopool operation
    of the main thread, which has been withdrawn (nothing was sent or
    received). The message is Go's, followed by the dump; ``dump`` holds the
    dump alone.
    """

    dump: str = ""


# -- the dump --

_INTERNAL_FILES = frozenset({_waiter.__file__, _goroutines.__file__, __file__})
_BOOTSTRAP_FILES = frozenset({threading.__file__, _goroutines.__file__})


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} seconds"
    minutes = int(seconds // 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _safe_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception as exc:
        return f"<{type(obj).__name__}: repr failed: {exc!r}>"
    return text if len(text) <= 300 else text[:297] + "..."


def _describe(w: Waiter, frames: list[FrameType]) -> tuple[str, list[str]]:
    """What ``w`` waits for: a reason in Go's words, and lines naming the objects."""
    what = w.what
    if what is None:
        # An operation that left no description: named after the function
        # that parked.
        for f in frames:
            if f.f_code.co_filename not in _INTERNAL_FILES:
                module = str(f.f_globals.get("__name__", "?")).removeprefix("gopool.")
                return f"{module}.{f.f_code.co_qualname}", []
        return "parked", []
    if not (isinstance(what, tuple) and len(what) == 2 and isinstance(what[0], str)):
        return _safe_repr(what), []
    reason, target = what
    if target is None:
        return reason, []
    if reason == "select":
        lines = []
        for i, (verb, ch) in enumerate(target):
            if ch is not None:
                lines.append(f"case {i}: {verb} {_safe_repr(ch)}")
        return reason, lines
    if reason == "chan send":
        return reason, [f"to {_safe_repr(target)}"]
    if reason == "chan receive":
        return reason, [f"from {_safe_repr(target)}"]
    return reason, [f"on {_safe_repr(target)}"]


def _stack(frame: FrameType | None) -> tuple[list[FrameType], str]:
    """The frames of a thread, innermost first, without gopool's parking and debug frames.

    Also returns the formatted stack (outermost first, as Python prints
    tracebacks), without threading's and go()'s bootstrap frames.
    """
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    inner = 0
    while inner < len(frames) - 1 and frames[inner].f_code.co_filename in _INTERNAL_FILES:
        inner += 1
    outer = len(frames)
    while outer > inner + 1 and frames[outer - 1].f_code.co_filename in _BOOTSTRAP_FILES:
        outer -= 1
    shown = frames[inner:outer]
    summary = traceback.StackSummary.extract((f, f.f_lineno) for f in reversed(shown))
    return frames, "".join(summary.format())


def _innermost(waiters: Iterable[Waiter]) -> Waiter | None:
    best: Waiter | None = None
    for w in waiters:
        if best is None or w.since >= best.since:
            best = w
    return best


def _render(report_for: Waiter | None = None) -> str:
    """The dump's text. ``report_for``: the main thread's waiter, claimed to report a deadlock."""
    now = time.monotonic()
    frames = sys._current_frames()
    threads = threading.enumerate()
    waiters, goroutines, omit = _goroutines.snapshot()
    names = {t.ident: t.name for t in threads}

    def block(ident: int, header: str, created_by: str | None) -> str:
        w = _innermost(waiters.get(ident, ()))
        thread_frames, stack = _stack(frames.get(ident))
        details: list[str] = []
        if w is None:
            state = "running"
        elif w.claimed and w is not report_for:
            state = "runnable"
        else:
            reason, details = _describe(w, thread_frames)
            state = f"{reason}, {_duration(now - w.since)}"
            if w.timeout is not None:
                left = max(0.0, w.since + w.timeout - now)
                state += f", times out in {_duration(left)}"
        lines = [header.replace("{state}", state)]
        lines += [f"    {d}" for d in details]
        lines.append(stack.rstrip("\n") if stack else "  (no Python frames)")
        if created_by is not None:
            lines.append(f"created by {created_by}")
        return "\n".join(lines)

    main = threading.main_thread().ident
    blocks: list[str] = []
    if main in frames and main not in omit:
        blocks.append(block(main, "main thread [{state}]:", None))
    counts = [f"the main thread{'' if blocks else ' (gone)'}"]
    shown = 0
    for ident, (n, name, created_by) in sorted(goroutines.items(), key=lambda kv: kv[1][0]):
        if ident in frames and ident not in omit:
            blocks.append(block(ident, f"goroutine {n} [{{state}}]: {name}", created_by))
            shown += 1
    counts.append(_plural(shown, "goroutine"))
    others = [i for i in frames if i != main and i not in goroutines and i not in omit]
    for ident in sorted(others, key=lambda i: (names.get(i) or "", i)):
        name = names.get(ident) or f"{ident} (not started by threading)"
        blocks.append(block(ident, f"thread [{{state}}]: {name}", None))
    counts.append(_plural(len(others), "other thread"))
    head = f"gopool: {', '.join(counts)}; {_plural(timers.pending_count(), 'timer')} pending"
    return head + "\n\n" + "\n\n".join(blocks) + "\n"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def dump(file: TextIO | None = None) -> str:
    """Every goroutine, the main thread and every other thread: state, blocked on, stack.

    Returns the text; with ``file`` also writes it there (and flushes). Each
    thread's block opens with a header in Go's style, such as
    ``goroutine 7 [chan receive, 3.0 seconds]: worker``: the state is what
    the thread is parked on in gopool and for how long (with the time left
    if the wait has a timeout), ``runnable`` for a thread just woken, and
    ``running`` for a thread not blocked in gopool (running Python code, or
    blocked elsewhere). Then come the objects it waits on (by their
    ``repr``), its stack (most recent call last, gopool's parking frames
    left out) and, for a goroutine, where it was started. Never blocks for
    long: it takes each lock it reads under only briefly.
    """
    text = _render()
    if file is not None:
        file.write(text)
        file.flush()
    return text


def _print_for_signal(signum: int) -> None:
    with _goroutines.helper():
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        text = f"{name}: goroutine dump (the program carries on)\n\n{_render()}"
        stream = sys.stderr
        if stream is not None:
            stream.write(text)
            stream.flush()


def _on_dump_signal(signum: int, frame: FrameType | None) -> None:
    # The handler runs in the main thread between two of its bytecodes,
    # possibly inside a channel's critical section: rendering the dump here
    # could wait on that very lock forever. A fresh thread renders it
    # instead, and the main thread carries on at once. A raw thread:
    # threading's own locks may be held by the interrupted main thread too.
    try:
        _thread.start_new_thread(_print_for_signal, (signum,))
    except RuntimeError:
        pass  # the interpreter is shutting down: no dump, but no failure either


def install_dump_signal(sig: int = getattr(signal, "SIGQUIT", 3)) -> _SignalHandler:
    """Make signal ``sig`` (``SIGQUIT`` by default, as in Go) print :func:`dump` to stderr.

    The program carries on after printing. Returns the previous handler,
    as ``signal.signal`` does. Must be called from the main thread. Raises
    ``TypeError`` if ``sig`` is not an ``int`` and ``ValueError`` (or
    ``OSError``) for a signal that cannot be caught, as ``signal.signal``
    does. The environment variable ``GOPOOL_DUMP_SIGNAL`` (a name such as
    ``QUIT`` or ``SIGUSR1``, or a number) does the same when gopool is
    imported.
    """
    check_int(sig, "install_dump_signal: sig", "a signal number")
    return signal.signal(sig, _on_dump_signal)


# -- deadlock detection --

def set_deadlock_detection(enabled: bool) -> bool:
    """Turn Go's deadlock report on or off; returns the previous setting.

    While on, a blocking gopool operation of the main thread with no
    timeout raises :class:`DeadlockError` (after withdrawing the operation)
    once the main thread and every other live thread are blocked in gopool
    operations with no timeout and no timer is pending. Never reports while
    any other thread could act: one running Python code, or blocked outside
    gopool (``time.sleep``, I/O, ``queue.Queue``), or in a gopool wait with
    a timeout. Off by default; the environment variable ``GOPOOL_DEADLOCK=1``
    turns it on when gopool is imported. While off, blocking operations pay
    one extra check; while on, every wait with no timeout also checks the
    threads. Raises ``TypeError`` if ``enabled`` is not a ``bool``.
    """
    check_bool(enabled, "set_deadlock_detection: enabled")
    return _goroutines.set_deadlock_report(_deadlock_error if enabled else None)


def _deadlock_error(main_waiter: Waiter) -> DeadlockError:
    """The report of a deadlock found with the main thread parked on ``main_waiter``."""
    try:
        text = _render(report_for=main_waiter)
    except Exception:  # the dump failed: report the deadlock all the same
        return DeadlockError(DEADLOCK_MESSAGE)
    exc = DeadlockError(f"{DEADLOCK_MESSAGE}\n\n{text}")
    exc.dump = text
    return exc


# -- the environment --

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _signal_from(text: str) -> int:
    name = text.strip().upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(
            f"GOPOOL_DUMP_SIGNAL={text!r}: not a signal name (such as QUIT) or number"
        ) from None


def _configure_from_environment() -> None:
    value = os.environ.get("GOPOOL_DEADLOCK", "").strip().lower()
    if value in _TRUE:
        set_deadlock_detection(True)
    elif value not in _FALSE:
        raise ValueError(f"GOPOOL_DEADLOCK={value!r}: expected 1 or 0")
    sig = os.environ.get("GOPOOL_DUMP_SIGNAL", "")
    if sig.strip():
        install_dump_signal(_signal_from(sig))


_configure_from_environment()
