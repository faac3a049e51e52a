"""Go's ``golang.org/x/sync/singleflight``: duplicate function call suppression.

Written after ``singleflight/singleflight.go``: a :class:`Group` maps each
key with a call in flight to a ``_Call``; the first caller of a key runs the
function, later callers of the key wait on the call's
:class:`~gopool.sync.WaitGroup` and get its outcome.

Errors: a Go function reports failure by returning an error, and a panic
in it re-panics in every ``Do`` caller (and crashes the program when a
``DoChan`` caller shares it). Here a function fails by raising: every
:meth:`Group.do` caller of that flight has the same exception instance
raised (with the traceback into the function), and every
:meth:`Group.do_chan` caller gets it as the result's ``err``. Nothing is
reported as a goroutine panic. Whatever the function raises is the flight's
outcome, a ``KeyboardInterrupt`` that reaches a main thread running it
included: the callers waiting for that flight get it too.

Invariants of a :class:`Group` (each holds whenever ``_lock`` is free):

* ``_calls[key]`` is the call in flight for ``key``, if any. A call leaves
  ``_calls`` once, either when it finishes (removed only if it is still the
  one mapped, so a finishing call never removes a newer call of the same
  key) or by :meth:`Group.forget`.
* A call's ``dups`` and ``chans`` change only while it is in ``_calls``
  and not ``finished``; ``finished`` is set, and ``dups`` and ``chans`` are
  read, in one hold of the lock as the call ends. So the ``shared`` flag and
  the set of ``do_chan`` receivers are final from then on.
* A call's ``val``, ``err`` and ``tb`` are written once, by the thread that
  runs the function, before its ``WaitGroup`` is done, and read by waiters
  only after it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar, cast

from ._waiter import refuse_in_loop
from .chan import Chan, RecvChan, go
from .sync import WaitGroup

__all__ = ["Group", "SingleflightResult"]

V = TypeVar("V")


@dataclass(frozen=True)
class SingleflightResult(Generic[V]):
    """What :meth:`Group.do_chan` delivers: Go's ``singleflight.Result``.

    ``val`` is the function's value (``None`` if it raised), ``err`` the
    exception it raised (``None`` if it returned), and ``shared`` whether
    the outcome went to more than one caller.
    """

    val: V | None
    err: BaseException | None
    shared: bool


class _Call(Generic[V]):
    """One flight of a key: the function's outcome and who waits for it."""

    __slots__ = ("chans", "done", "dups", "err", "finished", "runner", "tb", "val")

    def __init__(self) -> None:
        self.done = WaitGroup()
        self.done.add(1)
        self.val: V | None = None
        self.err: BaseException | None = None
        self.tb: TracebackType | None = None
        # The thread running the function: written once, by that thread, so a
        # read without the lock equals a reader's own id only if it is that thread.
        self.runner: int | None = None
        self.dups = 0
        self.chans: list[Chan[SingleflightResult[V]]] = []
        self.finished = False


class Group(Generic[V]):
    """Go's ``singleflight.Group``: a namespace of keys whose calls are not duplicated.

    While a call for a key is in flight, more calls for that key wait for it
    and share its outcome instead of running their own function. Once it has
    finished, the next call for the key runs its function again. Every
    method is thread-safe. Keys are strings, as in Go.

        >>> g = Group[int]()
        >>> g.do("answer", lambda: 42)
        (42, False)
        >>> g.do_chan("answer", lambda: 43).recv()
        SingleflightResult(val=43, err=None, shared=False)
    """

    # _lock guards _calls, and the dups, chans and finished fields of every
    # call in it.
    __slots__ = ("__weakref__", "_calls", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _Call[V]] = {}

    def do(self, key: str, fn: Callable[[], V]) -> tuple[V, bool]:
        """Run ``fn()`` for ``key`` unless a call for ``key`` is in flight; ``(value, shared)``.

        If a call for ``key`` is in flight (started by :meth:`do` or
        :meth:`do_chan`), blocks until it finishes and returns its value
        with ``shared`` True, or raises the exception it raised (the same
        instance, with the traceback into its function). Otherwise runs
        ``fn`` in this thread and returns its value, with ``shared`` True if
        another caller waited for it; if ``fn`` raises, so does this call.
        A wait costs no CPU; ``KeyboardInterrupt`` reaches a main thread
        blocked here and withdraws it (the call goes on for the others).
        Raises ``TypeError`` for a key that is not a ``str`` or an ``fn`` that
        is not callable, and ``RuntimeError`` if ``fn`` calls ``do`` for its
        own key from its own thread (a deadlock in Go), or if this call would
        wait in the thread of a running asyncio event loop (use
        :meth:`do_chan` and ``await ch.async_recv()`` there).
        """
        _check(key, fn, "do")
        with self._lock:
            c = self._calls.get(key)
            if c is None:
                c = self._calls[key] = _Call()
                mine = True
            elif c.runner == threading.get_ident():
                raise RuntimeError(
                    f"singleflight: Group.do({key!r}) called from the function it is "
                    "running (a deadlock in Go)"
                )
            else:
                refuse_in_loop(f"singleflight: Group.do({key!r}) of a call in flight")
                c.dups += 1
                mine = False
        if mine:
            self._run(c, key, fn)
            shared = c.dups > 0
        else:
            self._wait(c)
            shared = True
        err = c.err
        if err is not None:
            if mine:
                raise err
            raise err.with_traceback(c.tb)
        return cast(V, c.val), shared  # fn returned: val is its V

    def do_chan(self, key: str, fn: Callable[[], V]) -> RecvChan[SingleflightResult[V]]:
        """Like :meth:`do`, without waiting: a channel that receives the result once ready.

        The channel has room for the one :class:`SingleflightResult` it ever
        receives (so no goroutine is left blocked if nobody reads it) and is
        never closed, as in Go. A new call runs ``fn`` in a goroutine; an
        exception from ``fn`` becomes the result's ``err``, not a goroutine
        panic. Never blocks. Raises ``TypeError`` as :meth:`do` does.
        """
        _check(key, fn, "do_chan")
        ch: Chan[SingleflightResult[V]] = Chan(1)
        with self._lock:
            c = self._calls.get(key)
            if c is not None:
                c.dups += 1
                c.chans.append(ch)
                return ch
            c = self._calls[key] = _Call()
            c.chans.append(ch)
        try:
            go(self._run, c, key, fn)
        except BaseException as exc:
            # No goroutine: the flight ends here, failed, for everyone in it.
            c.err = exc
            self._finish(c, key)
            raise
        return ch

    def forget(self, key: str) -> None:
        """Forget the call in flight for ``key``, if any.

        The next :meth:`do` or :meth:`do_chan` for ``key`` runs its function
        even while the forgotten call is still running; callers already
        waiting for the forgotten call still get its outcome.
        """
        _check_key(key, "forget")
        with self._lock:
            self._calls.pop(key, None)

    def _run(self, c: _Call[V], key: str, fn: Callable[[], V]) -> None:
        """Run the flight's function, record its outcome, and end the flight."""
        c.runner = threading.get_ident()
        try:
            c.val = fn()
        except BaseException as exc:
            c.err = exc
            # Kept for the waiters, so each sees where the function failed.
            c.tb = exc.__traceback__
        finally:
            self._finish(c, key)

    def _finish(self, c: _Call[V], key: str) -> None:
        with self._lock:
            if self._calls.get(key) is c:
                del self._calls[key]
            c.finished = True
            chans = c.chans
            result = SingleflightResult(c.val, c.err, c.dups > 0)
        c.done.done()
        for ch in chans:
            ch.send(result)  # room for it: never blocks

    def _wait(self, c: _Call[V]) -> None:
        try:
            c.done.wait()
        except BaseException:
            # Withdrawn (Ctrl-C): the outcome will not go to this caller.
            with self._lock:
                if not c.finished:
                    c.dups -= 1
            raise

    def __repr__(self) -> str:
        with self._lock:
            keys = list(self._calls)
        return f"<singleflight.Group in flight={keys!r} at {id(self):#x}>"


def _check_key(key: object, method: str) -> None:
    if not isinstance(key, str):
        raise TypeError(
            f"singleflight: Group.{method}: key must be a str, not {type(key).__name__}"
        )


def _check(key: object, fn: object, method: str) -> None:
    _check_key(key, method)
    if not callable(fn):
        raise TypeError(f"singleflight: Group.{method}: {fn!r} is not callable")
