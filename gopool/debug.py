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

Invariants of the detector (``_waiter._watch_lock`` guards ``_enabled``,
``_exiting``, ``_watching`` and ``_helpers``, as well as gopool._waiter's
record of watched parks):

* It reports only a state in which no thread can act again. It runs with
  ``_watch_lock`` held, so the registrations of parked threads cannot change
  under it, and takes its list of live threads under that lock too: a
  thread not yet registered when the lock was taken is running, so it is
  seen running (or was started by a thread seen running). It reports when
  the main thread's innermost waiter and that of every other live thread
  is registered, unclaimed and without timeout, and ``pending_count()`` of
  the timers is 0. A claimed waiter means a runnable thread. Threads in
  ``_exiting`` (goroutines whose function has ended, and the detector's
  own watcher threads) and in ``_helpers`` (dump printers) never act, and
  are left out. Any other thread, in any state, means no report.
* Each check is triggered by a change that could complete a deadlock: a
  thread about to park with no timeout (checked after it registered), a
  goroutine ending, or the end of a thread no gopool hook sees (a plain
  thread, the timer thread): when such threads are the only obstacle left,
  a watcher thread joins each of them and checks again.
* The report is made at most once per blocked operation: the detector
  builds the dump, then aborts the main thread's waiter with the exception
  (``Waiter.abort``, which claims it: a failed claim means the wait was
  completed or interrupted meanwhile, or already reported: no report);
  automatic garbage collection is off during the check, so no finalizer
  runs in its middle.
* After ``os.fork()`` the child forgets the parent's watchers, dump
  printers and exiting threads, as gopool._waiter forgets its records.

Lock order: ``_watch_lock``, then a goroutine registry's, timer's or
threading's lock (each taken briefly inside the check); the dump takes
channel locks (through ``repr``) with no other lock of ours held.
"""

from __future__ import annotations

import _thread
import gc
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TextIO

from . import _waiter, chan, context, timers
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

_INTERNAL_FILES = frozenset({_waiter.__file__, __file__})
_THREADING_FILE = threading.__file__
_GOROUTINE_BODY = chan._run_goroutine.__code__
_SLEEP = timers.sleep.__code__


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


def _channel(ch: object) -> str:
    if isinstance(ch, context._DoneChan):
        return f"{_safe_repr(ch)} (a context's done channel)"
    return _safe_repr(ch)


def _describe(w: Waiter, frames: list[FrameType]) -> tuple[str, list[str]]:
    """What ``w`` waits for: a reason in Go's words, and lines naming the objects."""
    what = w.what
    if what is None:
        # An operation that left no description (time's sleep, for one):
        # named after the function that parked.
        for f in frames:
            if f.f_code.co_filename not in _INTERNAL_FILES:
                if f.f_code is _SLEEP:
                    return "sleep", []
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
        for i, (kind, ch, _) in enumerate(target):
            if ch is not chan.nilchan:
                verb = "send to" if kind == chan._SEND else "receive from"
                lines.append(f"case {i}: {verb} {_channel(ch)}")
        return reason, lines
    if reason == "chan send":
        return reason, [f"to {_channel(target)}"]
    if reason == "chan receive":
        return reason, [f"from {_channel(target)}"]
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
    while outer > inner + 1 and (
        frames[outer - 1].f_code.co_filename == _THREADING_FILE
        or frames[outer - 1].f_code is _GOROUTINE_BODY
    ):
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
    waiters: dict[int, list[Waiter]] = {}
    for w, ident in _waiter._parked.copy().items():
        waiters.setdefault(ident, []).append(w)
    with _waiter._watch_lock:
        for ident, stack in _waiter._watched.items():
            waiters.setdefault(ident, []).extend(stack)
        # By thread, not id: an ended thread's id may be a new thread's.
        omit = set(_helpers) | {t.ident for t in _exiting if t.is_alive()}
    goroutines: dict[int, tuple[int, str, str]] = {}
    for t in threads:
        with chan._goroutine_ids_lock:
            info = chan._goroutines.get(t)
        if info is not None and t.ident is not None:
            goroutines[t.ident] = info
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


_helpers: set[int] = set()
"""Ids of the threads printing a dump for a signal; guarded by ``_waiter._watch_lock``."""


def _print_for_signal(signum: int) -> None:
    with _waiter._watch_lock:
        _helpers.add(_thread.get_ident())
    try:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        text = f"{name}: goroutine dump (the program carries on)\n\n{_render()}"
        stream = sys.stderr
        if stream is not None:
            stream.write(text)
            stream.flush()
    finally:
        with _waiter._watch_lock:
            _helpers.discard(_thread.get_ident())


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
    if not isinstance(sig, int) or isinstance(sig, bool):
        raise TypeError(f"install_dump_signal: sig must be a signal number, not {sig!r}")
    return signal.signal(sig, _on_dump_signal)


# -- deadlock detection --

_enabled = False
_exiting: set[threading.Thread] = set()
"""Threads that will not act again: goroutines whose function ended, and watchers."""
_watching: set[threading.Thread] = set()
"""Threads a watcher is waiting for, to check again when they end."""


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
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_deadlock_detection: enabled must be a bool, not {enabled!r}")
    with _waiter._watch_lock:
        previous = _enabled
        _enabled = enabled
        _waiter._detector = _detect if enabled else None
    return previous


def _detect(w: Waiter | None) -> None:
    """The hook gopool._waiter calls: see ``_waiter._detector`` and the module docstring."""
    target: Waiter | None = None
    blockers: list[threading.Thread] = []
    frames: object = None
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _waiter._watch_lock:
            if not _enabled:
                return
            if w is None:
                _prune_exiting_locked()
                _exiting.add(threading.current_thread())
            main_stack = _waiter._watched.get(threading.main_thread().ident or 0)
            if not main_stack or main_stack[-1].claimed:
                return
            found, frames = _find_deadlock_locked(main_stack[-1])
            if isinstance(found, Waiter):
                target = found
            else:
                blockers = [t for t in found if t not in _watching]
                _watching.update(blockers)
    finally:
        if gc_was_enabled:
            gc.enable()
    del frames  # dropped outside the lock: a frame kept alive by it may run finalizers
    if target is None:
        _watch_threads(blockers)
        return
    exc: BaseException | None = None
    try:
        text = _render(report_for=target)
        exc = DeadlockError(f"{DEADLOCK_MESSAGE}\n\n{text}")
        exc.dump = text
    finally:
        if exc is None:  # the dump failed: report the deadlock all the same
            exc = DeadlockError(DEADLOCK_MESSAGE)
        # Fails if the main thread's wait ended meanwhile (completed, or
        # interrupted), or another check reported it first: no report then.
        target.abort(exc)


def _find_deadlock_locked(main_waiter: Waiter) -> tuple[Waiter | list[threading.Thread], object]:
    """The main thread's waiter if deadlocked, else the threads to watch; ``_watch_lock`` held.

    An empty list means no deadlock and nothing to watch (a running
    goroutine, or a thread that cannot be joined, will check again or
    never allow a report). Also returns the frames snapshot, for the caller
    to drop outside the lock.
    """
    _prune_exiting_locked()
    main = threading.main_thread()
    if main.ident in _waiter._parked.copy().values():
        # Also in a park that is not watched: one with a timeout (made by a
        # signal handler that interrupted the watched one), or one begun
        # before detection was turned on.
        return [], None
    known: set[int] = set()
    joinable: list[threading.Thread] = []
    for t in threading.enumerate():
        ident = t.ident
        if ident is None:
            return [], None  # being started by a running thread
        known.add(ident)
        if t in _exiting or ident in _helpers:
            continue
        stack = _waiter._watched.get(ident)
        if stack:
            if stack[-1].claimed:
                return [], None
            continue
        with chan._goroutine_ids_lock:
            goroutine = t in chan._goroutines
        if goroutine or t is main or isinstance(t, threading._DummyThread):
            # A goroutine checks again when it parks or ends; a foreign
            # thread cannot be joined: no report while it lives.
            return [], None
        joinable.append(t)
    if joinable:
        return joinable, None
    if timers.pending_count():
        sched = timers.scheduler_thread()
        return ([sched] if sched is not None and sched.ident is not None else []), None
    # Last, as it is the costliest look (and, on CPython 3.12.1, one that
    # made frequent calls crash the garbage collector): threads started
    # without threading.
    frames = sys._current_frames()
    for ident in frames:
        if ident not in known and ident not in _helpers:
            return [], frames
    return main_waiter, frames


def _prune_exiting_locked() -> None:
    """Forget the threads of ``_exiting`` that have ended; ``_watch_lock`` held."""
    for t in [t for t in _exiting if t.ident is not None and not t.is_alive()]:
        _exiting.discard(t)


def _watch_threads(threads: list[threading.Thread]) -> None:
    """Start a watcher per thread: when it ends, check for a deadlock again."""
    for t in threads:
        watcher = threading.Thread(
            target=_await_end, args=(t,), name=f"gopool-deadlock-watch [{t.name}]", daemon=True
        )
        with _waiter._watch_lock:
            _exiting.add(watcher)
        try:
            watcher.start()
        except RuntimeError:  # at interpreter shutdown: nothing left to report to
            with _waiter._watch_lock:
                _exiting.discard(watcher)
                _watching.discard(t)


def _after_fork_child() -> None:
    # The watchers, dump printers and exiting threads were all in the parent.
    _exiting.clear()
    _watching.clear()
    _helpers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)


def _await_end(t: threading.Thread) -> None:
    t.join()
    with _waiter._watch_lock:
        _watching.discard(t)
    _detect(None)


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
