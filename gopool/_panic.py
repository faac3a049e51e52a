"""Goroutine panics: an exception escaping a goroutine, reported, then acted on by mode.

:func:`panic` is called by the goroutine runner (for ``go()``,
``WaitGroup.go`` and fired ``after_func`` callbacks) with the exception
that escaped. It reports it (through ``threading.excepthook``; a
``SystemExit``, which threading's default hook drops silently, is printed
here), then by mode:

* ``"report"``: nothing more;
* ``"exit"``: ``sys.stdout``/``sys.stderr`` flushed, ``os._exit(2)`` (Go's);
* ``"raise"`` (default): the first panic of the process becomes a
  :class:`GoroutineError` delivered to the main thread: by aborting its
  parked waiter if it is blocked in gopool (it withdraws as after Ctrl-C),
  else asynchronously at its next bytecode boundary
  (``PyThreadState_SetAsyncExc``, the mechanism of no signal, so no
  handler of the program's is touched). A watchdog on the one scheduler
  thread ends the process as in ``"exit"`` if the main thread has not taken
  it within :data:`WATCHDOG` seconds (blocked outside gopool, or finished).
  Later panics are reported and attached to the first
  (``GoroutineError.others``).

Invariants:

* ``_lock`` guards ``_first``, ``_taken``, ``_async_sent`` and ``_mode``.
* The first panic is delivered at most once: whoever sets ``_taken`` (the
  aborting panicker, the main thread about to park, or the main thread
  building the asynchronous error) delivers it; a pending asynchronous
  error is cleared by the main thread when it takes the error otherwise.
* The panicker marks the panic pending (``_goroutines.panicking``) before
  it looks for a parked main thread, and a parking main thread checks it
  after registering its park, so one of the two always sees the other.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
import traceback
import warnings
from typing import Literal

from . import _goroutines
from ._report import report

__all__ = ["GoroutineError", "WATCHDOG", "panic", "set_panic_mode", "take_in_main"]

PanicMode = Literal["raise", "exit", "report"]
_MODES: tuple[PanicMode, ...] = ("raise", "exit", "report")

WATCHDOG = 1.0
"""Seconds the main thread has to take a :class:`GoroutineError` before the process ends."""

_lock = threading.Lock()
_first: GoroutineError | None = None
_taken = False
_async_sent = False


class GoroutineError(RuntimeError):
    """A goroutine's escaped exception, raised in the main thread (``__cause__``: the original).

    ``others`` lists the exceptions of goroutines that panicked after the
    first (reported, never raised).
    """

    others: list[BaseException]

    def __init__(self, *args: object) -> None:
        if args:
            super().__init__(*args)
            self.others = []
            return
        # Built with no argument by the interpreter, in the main thread, for
        # the asynchronous delivery: this is the first panic, taken here.
        first = _take()
        if first is None:  # pragma: no cover - only the asynchronous delivery builds it bare
            super().__init__("goroutine panicked")
            self.others = []
            return
        super().__init__(*first.args)
        self.others = first.others
        self.__cause__ = first.__cause__
        self.goroutine = first.goroutine

    goroutine: str = ""
    """The name of the goroutine's thread."""


def _initial_mode() -> PanicMode:
    value = os.environ.get("GOPOOL_PANIC", "")
    if not value:
        return "raise"
    for mode in _MODES:
        if value == mode:
            return mode
    warnings.warn(
        f"GOPOOL_PANIC={value!r} ignored: expected one of {', '.join(_MODES)}",
        RuntimeWarning,
        stacklevel=2,
    )
    return "raise"


_mode: PanicMode = _initial_mode()


def set_panic_mode(mode: PanicMode) -> None:
    """Choose what an exception escaping a goroutine does: ``"raise"``, ``"exit"`` or ``"report"``.

    Overrides ``GOPOOL_PANIC``. Raises ``TypeError`` for a non-``str``,
    ``ValueError`` for an unknown mode. Never blocks.
    """
    global _mode
    if not isinstance(mode, str):
        raise TypeError(f"set_panic_mode: mode must be a str, not {type(mode).__name__}")
    if mode not in _MODES:
        expected = ", ".join(_MODES)
        raise ValueError(f"set_panic_mode: unknown mode {mode!r}; expected one of {expected}")
    with _lock:
        _mode = mode


def _report(exc: BaseException) -> None:
    if isinstance(exc, SystemExit) and threading.excepthook is threading.__excepthook__:
        # threading's default hook drops SystemExit silently: Go's program would end loudly.
        name = threading.current_thread().name
        print(f"Exception in thread {name}:", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
    else:
        report(exc)


def _exit() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # a closed stream must not keep the process alive
            pass
    os._exit(2)


def panic(exc: BaseException) -> None:
    """Act on ``exc``, escaped from the calling goroutine, by the panic mode. Never raises.

    In ``"exit"`` mode it does not return.
    """
    global _first, _async_sent
    _report(exc)
    with _lock:
        mode = _mode
        first = _first
        if mode == "raise":
            if first is not None:
                first.others.append(exc)
                return
            name = threading.current_thread().name
            err = GoroutineError(f"goroutine {name!r} panicked: {type(exc).__name__}: {exc}")
            err.goroutine = name
            err.__cause__ = exc
            _first = err
            _goroutines.panicking = True
    if mode == "exit":
        _exit()
    if mode != "raise":
        return
    main = threading.main_thread()
    for w in _goroutines.waiters_of(main.ident or 0):
        with _lock:
            if _taken:
                return
            if w.abort(err):
                _mark_taken()
                return
    with _lock:
        if not _taken and main.ident is not None and main.is_alive():
            _async_sent = _set_async_exc(main.ident, GoroutineError)
    from ._scheduler import schedule

    try:
        schedule(time.monotonic() + WATCHDOG, _watchdog)
    except RuntimeError:
        # "can't create new thread at interpreter shutdown" (Python 3.12+):
        # the main thread has finished and the scheduler thread was never
        # started. This goroutine keeps the watch itself.
        time.sleep(WATCHDOG)
        _watchdog()


def _mark_taken() -> None:
    global _taken
    _taken = True
    _goroutines.panicking = False


def _take() -> GoroutineError | None:
    """The first panic, marked taken, if not taken yet; called in the main thread."""
    global _async_sent
    with _lock:
        if _taken or _first is None:
            return None
        _mark_taken()
        if _async_sent:
            _async_sent = False
            ident = threading.get_ident()
            _set_async_exc(ident, None)
        return _first


def take_in_main() -> None:
    """Raise the pending :class:`GoroutineError` if called in the main thread about to park.

    Called by a park after registering it, when ``_goroutines.panicking``.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    first = _take()
    if first is not None:
        raise first


def _watchdog() -> None:
    with _lock:
        taken = _taken
    if taken:
        return
    print(
        "gopool: the main thread did not take the goroutine panic within "
        f"{WATCHDOG:g} s (blocked outside gopool, or finished): exiting",
        file=sys.stderr,
    )
    _exit()


_set_async = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async.restype = ctypes.c_int


def _set_async_exc(ident: int, exc_type: type[BaseException] | None) -> bool:
    """Set (or with None, clear) the asynchronous exception of thread ``ident``."""
    exc = ctypes.py_object() if exc_type is None else ctypes.py_object(exc_type)
    return bool(_set_async(ident, exc))


def _after_fork_child() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)
