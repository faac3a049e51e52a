"""Go's ``context`` package for Python threads: cancellation, deadlines, values.

Written after Go's ``src/context/context.go``: a tree of contexts in which a
cancellable context registers itself with its nearest cancellable ancestor,
and cancelling a context cancels its whole subtree, synchronously.

Invariants (each holds whenever the locks involved are free):

* Cancellation flows from parent to child only. A context's ``err`` and
  ``cause`` are set once, by the first cancel, under its ``_lock``, and its
  done channel is closed under that same lock: ``err()`` is not None exactly
  when ``done()`` is closed, and every later cancel is a no-op (first cause
  wins, ``err()`` returns the same instance every time).
* A live cancellable context is in the ``_children`` set of the
  :class:`_CancelCtx` it registered with, and nowhere else. Cancelling a
  context takes its whole ``_children`` set (so the parent drops every
  reference to its children) and removes the context from its own parent's
  set, so a long-lived parent holds only its live children.
* A context's deadline is fixed at creation and is never later than its
  parent's. A pending deadline is one handle on the shared timer scheduler
  (:mod:`gopool.timers`), held in ``_timer`` only while the context is live;
  the first cancel takes and cancels it. A cancelled context therefore keeps
  no timer, and no thread: the only goroutines this module starts are
  :func:`after_func` callbacks and the watchers of custom parents, and a
  watcher ends when its child is cancelled.
* Nothing walks the tree recursively: cancellation, ``value`` lookups and
  ``repr`` iterate, so a chain thousands of contexts deep is fine.

Lock order: a parent's ``_lock`` before its child's (only while registering
a child); a context's ``_lock`` before its done channel's. No context lock
is held while calling the timer scheduler, starting a goroutine, or calling
into a context this module did not make.

Custom contexts: any subclass of :class:`Context` (or any object with
``done``, ``err``, ``deadline`` and ``value`` methods) can be a parent. As in
Go, a child finds the cancellable context of this module behind a custom
parent through ``parent.value()`` and registers there directly when the
parent's ``done()`` is that context's own channel; otherwise, if the parent
has an ``after_func(fn) -> stop`` method it is used, and only as a last
resort one goroutine per child waits on ``parent.done()`` until either is
done. A custom ``done()`` must return a :class:`~gopool.chan.Chan` or a
:class:`~gopool.chan.RecvOnlyChan` (or
:data:`~gopool.chan.nilchan`, or None, for a context that is never
cancelled).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, cast

from . import timers
from ._checks import check_callable, check_number
from ._duration import seconds as _seconds
from .chan import Chan, RecvChan, RecvOnlyChan, go, nilchan, select

__all__ = [
    "Canceled",
    "Context",
    "DeadlineExceeded",
    "after_func",
    "background",
    "cause",
    "todo",
    "with_cancel",
    "with_cancel_cause",
    "with_deadline",
    "with_deadline_cause",
    "with_timeout",
    "with_timeout_cause",
    "with_value",
    "without_cancel",
]


class Canceled(Exception):
    """The ``err()`` of a context that was cancelled (Go's ``context.Canceled``).

    One instance is made per cancellation and shared by every context that
    cancellation reaches, so ``ctx.err() is ctx.err()``; test for it with
    ``isinstance`` or ``except Canceled``.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("context canceled",)))


class DeadlineExceeded(TimeoutError):
    """The ``err()`` of a context whose deadline passed (Go's ``context.DeadlineExceeded``).

    A ``TimeoutError``, as Go's error reports ``Timeout() == true``.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(args or ("context deadline exceeded",)))


# -- the Context interface --


class Context:
    """A cancellation signal, a deadline and a set of values, passed down a call tree.

    Contexts are made by :func:`background`, :func:`todo` and the ``with_*``
    functions, never directly; every method is safe to call from any thread
    and never blocks. Subclass it to make a custom context (typically one
    that wraps another and delegates to it): the defaults below describe a
    context that is never cancelled and carries nothing, so a subclass
    overrides what it changes (``done`` and ``err`` together).
    """

    __slots__ = ()

    def done(self) -> RecvChan[None]:
        """A channel closed when this context is cancelled; :data:`nilchan` if it never can be.

        Successive calls return the same channel. Use it in ``select``:
        ``select(ctx.done().recv, (out.send, v))``.
        """
        return nilchan

    def err(self) -> Exception | None:
        """None while ``done()`` is open; then a :class:`Canceled` or :class:`DeadlineExceeded`.

        Once not None, every call returns the same instance.
        """
        return None

    def raise_if_done(self) -> None:
        """Raise ``err()`` if this context is done; return None while it is not.

        The typed form of Go's ``return ctx.Err()``: ``raise ctx.err()`` does
        not type-check (``err()`` may be None), ``ctx.raise_if_done()`` does.
        Never blocks.
        """
        err = self.err()
        if err is not None:
            raise err

    def deadline(self) -> float | None:
        """The ``time.monotonic()`` time at which this context expires, or None."""
        return None

    def value(self, key: object) -> Any:
        """The value bound to ``key`` (compared with ``==``, nearest context first), or None."""
        return None


# A private key: ctx.value(_CANCEL_CTX_KEY) is the nearest _CancelCtx up the
# chain, as Go's &cancelCtxKey; custom contexts pass it on through value().
_CANCEL_CTX_KEY = object()


class _DoneChan(RecvOnlyChan[None]):
    """A context's done channel: closed by cancelling the context, receive-only for its users."""

    __slots__ = ()

    _label = "done Chan of a context"

    def __init__(self) -> None:
        super().__init__(Chan())

    def _close(self) -> None:
        """Close it: the context's cancellation, under the context's lock."""
        self._chan.close()


# The done channel of a context cancelled before anyone asked for it.
_closedchan = _DoneChan()
_closedchan._close()


class _EmptyCtx(Context):
    """``background()`` and ``todo()``: never cancelled, no values, no deadline."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_background = _EmptyCtx("context.Background")
_todo = _EmptyCtx("context.TODO")


def background() -> Context:
    """The root of every context tree: never cancelled, no values, no deadline.

    Its ``done()`` is :data:`nilchan`. Always returns the same object.
    """
    return _background


def todo() -> Context:
    """Like :func:`background`, to mark code not yet given a real context."""
    return _todo


# -- cancellable contexts --


class _CancelCtx(Context):
    """Made by ``with_cancel``: cancelled by its cancel function or by its parent."""

    # _lock guards _done, _children, _err, _cause, _registered and
    # _parent_stop (and the fields of the subclasses); _parent and
    # _deadline never change.
    __slots__ = (
        "__weakref__",
        "_cause",
        "_children",
        "_deadline",
        "_done",
        "_err",
        "_lock",
        "_parent",
        "_parent_stop",
        "_registered",
    )

    def __init__(self, parent: Context, deadline: float | None) -> None:
        self._parent = parent
        self._deadline = deadline
        self._lock = threading.Lock()
        self._done: _DoneChan | None = None  # made on demand, as in Go
        self._children: set[_CancelCtx] | None = None
        self._err: Exception | None = None
        self._cause: BaseException | None = None
        self._registered: _CancelCtx | None = None  # the context we are a child of
        self._parent_stop: Callable[[], object] | None = None  # a custom parent's after_func stop

    def done(self) -> RecvChan[None]:
        with self._lock:
            d = self._done
            if d is None:
                d = self._done = _DoneChan()
            return d

    def err(self) -> Exception | None:
        with self._lock:
            return self._err

    def deadline(self) -> float | None:
        return self._deadline

    def value(self, key: object) -> Any:
        if key is _CANCEL_CTX_KEY:
            return self
        return _value(self._parent, key)

    def __repr__(self) -> str:
        return _chain_name(self)

    # -- linking to the parent (Go's propagateCancel) --

    def _propagate(self, parent: Context) -> None:
        """Arrange for this context to be cancelled when ``parent`` is."""
        source = parent._source if isinstance(parent, _ValueCtx) else parent
        if isinstance(source, _CancelCtx):
            self._attach(source)
        elif not isinstance(source, _EmptyCtx | _WithoutCancelCtx):
            self._propagate_custom(parent)

    def _attach(self, p: _CancelCtx) -> None:
        with p._lock:
            err = p._err
            if err is None:
                children = p._children
                if children is None:
                    children = p._children = set()
                children.add(self)
                with self._lock:
                    self._registered = p
                return
            parent_cause = p._cause
        self._cancel(False, err, parent_cause)

    def _propagate_custom(self, parent: Context) -> None:
        done = parent.done()
        if done is None or done is nilchan:
            return  # never cancelled
        if not isinstance(done, Chan | RecvOnlyChan):
            raise TypeError(
                f"{_context_name(parent)}.done() returned {done!r}; "
                "a context's done() must return a gopool Chan or RecvOnlyChan, nilchan or None"
            )
        if done.closed:
            self._cancel(False, _err_of(parent), cause(parent))
            return
        p = _parent_cancel_ctx(parent, done)
        if p is not None:
            self._attach(p)
            return
        parent_after_func = getattr(parent, "after_func", None)
        if callable(parent_after_func):

            def on_parent_done() -> None:
                self._cancel(False, _err_of(parent), cause(parent))

            stop = parent_after_func(on_parent_done)
            with self._lock:
                self._parent_stop = stop
            return
        child_done = self.done()
        global _goroutines
        with _goroutines_lock:
            _goroutines += 1
        go(_watch_parent, parent, done, self, child_done)

    # -- cancelling --

    def _cancel(self, remove_from_parent: bool, err: Exception, why: BaseException | None) -> None:
        """Cancel this context and its subtree with ``err`` (cause ``why`` or ``err``).

        A no-op for any context already cancelled. Removes this context from
        its parent if ``remove_from_parent``. Never blocks beyond the short
        critical sections of the contexts involved.

        An exception arriving part-way (``KeyboardInterrupt``, or a failure
        to start an ``after_func`` goroutine) must not leave the rest of the
        subtree, already detached from its parents, uncancelled forever:
        every step is idempotent and commits before it can raise, so the
        walk resumes where it stopped and the first exception is raised
        once it has finished.
        """
        if why is None:
            why = err
        queue: list[_CancelCtx] = [self]
        i = 0
        unlink = remove_from_parent
        held: BaseException | None = None
        while True:
            try:
                while i < len(queue):
                    queue[i]._finish(err, why, queue)
                    i += 1
                if unlink:
                    self._unlink()
                    unlink = False
                break
            except BaseException as exc:
                if held is None:
                    held = exc
        if held is not None:
            raise held

    def _finish(self, err: Exception, why: BaseException, queue: list[_CancelCtx]) -> None:
        """Mark this context cancelled and append its children to ``queue``.

        A no-op if it already was. Each step is idempotent and ``_err`` is
        set last, so a call cut short by an exception is completed by the
        next one (a retry, or any later cancel).
        """
        with self._lock:
            if self._err is not None:
                return
            children = self._children
            if children:
                queue.extend(children)  # handed over before they are dropped
            d = self._done
            if d is None:
                self._done = _closedchan
            elif not d.closed:
                d._close()
            then = self._on_cancel()
            self._children = None
            self._cause = why
            self._err = err
        if then is not None:
            then()

    def _on_cancel(self) -> Callable[[], object] | None:
        """Subclass hook, under ``_lock`` at the first cancel: what to run once it is released.

        Must be idempotent (a second call returns None).
        """
        return None

    def _unlink(self) -> None:
        """Remove this context from its parent (Go's removeChild)."""
        with self._lock:
            p = self._registered
            stop = self._parent_stop
            self._parent_stop = None
        if p is not None:
            with p._lock:
                children = p._children
                if children is not None:
                    children.discard(self)
                    if not children:
                        p._children = None  # a set never shrinks its table; drop it
        if stop is not None:
            stop()


class _TimerCtx(_CancelCtx):
    """Made by ``with_deadline``/``with_timeout``: a ``_CancelCtx`` that also expires."""

    __slots__ = ("_timer",)

    def __init__(self, parent: Context, when: float) -> None:
        super().__init__(parent, when)
        self._timer: timers.TimerHandle | None = None

    def _on_cancel(self) -> Callable[[], object] | None:
        timer = self._timer
        self._timer = None
        return None if timer is None else timer.cancel


class _AfterFuncCtx(_CancelCtx):
    """The hidden child made by :func:`after_func`: runs ``fn`` when cancelled by its parent."""

    __slots__ = ("_claimed", "_fn", "_mark")

    def __init__(
        self,
        parent: Context,
        fn: Callable[[], object],
        mark: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(parent, None)
        self._fn: Callable[[], object] | None = fn
        self._mark = mark  # see mark_then_go
        self._claimed = False  # by the first of: the parent's cancel (runs fn), stop()

    def _on_cancel(self) -> Callable[[], object] | None:
        mark = self._mark
        fn = self._claim()
        if fn is None:
            return None
        if mark is not None:
            mark()  # in the cancelling thread, before its cancel returns
        return partial(go, fn)

    def _claim(self) -> Callable[[], object] | None:
        """Take the right to run (or to stop) ``fn``; ``fn`` for the first caller, else None."""
        if self._claimed:
            return None
        self._claimed = True
        fn = self._fn
        self._fn = None  # nothing of the callback outlives its decision
        self._mark = None
        return fn

    def stop(self) -> bool:
        with self._lock:
            stopped = self._claim() is not None
        if stopped:
            self._cancel(True, Canceled(), None)
        return stopped


class _ValueCtx(Context):
    """Made by ``with_value``: one key-value pair over a parent."""

    # Every field is fixed at creation.
    __slots__ = ("__weakref__", "_deadline", "_key", "_parent", "_source", "_val")

    def __init__(self, parent: Context, key: object, val: object) -> None:
        self._parent = parent
        self._key = key
        self._val = val
        # The nearest ancestor that is not a _ValueCtx: done and err are its.
        self._source: Context = parent._source if isinstance(parent, _ValueCtx) else parent
        self._deadline = parent.deadline()

    def done(self) -> RecvChan[None]:
        return self._source.done()

    def err(self) -> Exception | None:
        return self._source.err()

    def deadline(self) -> float | None:
        return self._deadline

    def value(self, key: object) -> Any:
        return _value(self, key)

    def __repr__(self) -> str:
        return _chain_name(self)


class _WithoutCancelCtx(Context):
    """Made by ``without_cancel``: the parent's values, none of its cancellation."""

    __slots__ = ("__weakref__", "_parent")

    def __init__(self, parent: Context) -> None:
        self._parent = parent

    def value(self, key: object) -> Any:
        return _value(self, key)

    def __repr__(self) -> str:
        return _chain_name(self)


def _value(c: Context, key: object) -> Any:
    """``c.value(key)``, walking this module's contexts in a loop (Go's ``value``)."""
    while True:
        if isinstance(c, _ValueCtx):
            if key is not _CANCEL_CTX_KEY and c._key == key:
                return c._val
            c = c._parent
        elif isinstance(c, _CancelCtx):
            if key is _CANCEL_CTX_KEY:
                return c
            c = c._parent
        elif isinstance(c, _WithoutCancelCtx):
            if key is _CANCEL_CTX_KEY:
                return None  # so that cause() of it is None
            c = c._parent
        elif isinstance(c, _EmptyCtx):
            return None
        else:
            return c.value(key)


def _parent_cancel_ctx(parent: Context, done: RecvChan[None]) -> _CancelCtx | None:
    """The ``_CancelCtx`` behind a custom ``parent`` whose ``done()`` is its own channel.

    None if there is none, or if ``parent`` has a done channel of its own
    (then the ``_CancelCtx`` must not be used: Go's parentCancelCtx).
    """
    if done is _closedchan:
        return None
    p = parent.value(_CANCEL_CTX_KEY)
    if not isinstance(p, _CancelCtx):
        return None
    with p._lock:
        same = p._done is done
    return p if same else None


def _err_of(parent: Context) -> Exception:
    err = parent.err()
    return err if isinstance(err, Exception) else Canceled()


# How many watcher goroutines custom parents have needed (Go's `goroutines`).
_goroutines = 0
_goroutines_lock = threading.Lock()


def _watch_parent(
    parent: Context, parent_done: RecvChan[None], child: _CancelCtx, child_done: RecvChan[None]
) -> None:
    """Cancel ``child`` when the custom ``parent`` is done; return early if ``child`` is first."""
    index, _ = select(parent_done.recv, child_done.recv)
    if index == 0:
        child._cancel(False, _err_of(parent), cause(parent))


# -- repr (Go's String methods, iteratively) --


def _type_name(t: type) -> str:
    return f"{t.__module__.rpartition('.')[2]}.{t.__qualname__}"


def _context_name(c: object) -> str:
    """``repr(c)`` if its class defines one, else its type's name (Go's contextName)."""
    if type(c).__repr__ is object.__repr__:
        return _type_name(type(c))
    return repr(c)


def _stringify(v: object) -> str:
    """A key or value as shown in a ``with_value`` context's repr (Go's stringify)."""
    if isinstance(v, str):
        return v
    t = type(v)
    if t.__str__ is object.__str__ and t.__repr__ is object.__repr__:
        return _type_name(t)
    try:
        return str(v)
    except Exception:
        return _type_name(t)


def _format_duration(seconds: float) -> str:
    """A duration the way Go prints one: ``1.5s``, ``2m3s``, ``250ms``, ``-40µs``."""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s == 0:
        return "0s"
    if s < 1e-6:
        return f"{sign}{s * 1e9:.0f}ns"
    if s < 1e-3:
        return f"{sign}{_trim(s * 1e6, 3)}µs"
    if s < 1:
        return f"{sign}{_trim(s * 1e3, 6)}ms"
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{_trim(secs, 6)}s"
    if hours or minutes:
        out = f"{int(minutes)}m{out}"
    if hours:
        out = f"{int(hours)}h{out}"
    return sign + out


def _trim(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".rstrip("0").rstrip(".")


def _chain_name(c: Context) -> str:
    parts: list[str] = []
    while True:
        if isinstance(c, _TimerCtx):
            when = cast(float, c._deadline)
            remaining = _format_duration(when - time.monotonic())
            parts.append(f".WithDeadline({when:.6f} [{remaining}])")
        elif isinstance(c, _CancelCtx):
            parts.append(".WithCancel")
        elif isinstance(c, _ValueCtx):
            parts.append(f".WithValue({_stringify(c._key)}, {_stringify(c._val)})")
        elif isinstance(c, _WithoutCancelCtx):
            parts.append(".WithoutCancel")
        else:
            parts.append(_context_name(c))
            break
        c = c._parent
    parts.reverse()
    return "".join(parts)


# -- argument checks --


def _check_parent(parent: object) -> Context:
    if parent is None:
        raise TypeError("cannot create context from nil parent")
    if isinstance(parent, Context):
        return parent
    for method in ("done", "err", "deadline", "value"):
        if not callable(getattr(parent, method, None)):
            raise TypeError(f"{parent!r} is not a Context: it has no {method}() method")
    return parent  # type: ignore[return-value]  # a duck-typed context


def _check_cause(why: object) -> BaseException | None:
    if why is not None and not isinstance(why, BaseException):
        raise TypeError(f"a cause must be an exception or None, not {type(why).__name__}")
    return why


def _duration(value: object) -> float:
    return _seconds(value, "timeout")


# -- constructors --


def with_cancel(parent: Context) -> tuple[Context, Callable[[], None]]:
    """A child of ``parent`` with a new done channel, and the function that cancels it.

    The child is done when ``cancel()`` is called or when ``parent`` is
    done, whichever comes first; its ``err()`` is then the parent's, or a
    :class:`Canceled`. ``cancel()`` cancels the child's whole subtree before
    it returns, removes the child from ``parent`` and stops its timers; it
    never blocks, is idempotent and may be called from any thread. Call it
    as soon as the work is finished: until then the parent holds the child.

    Raises ``TypeError`` if ``parent`` is None or not a context.
    """
    c = _new_cancel_ctx(parent)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    return c, cancel


def with_cancel_cause(
    parent: Context,
) -> tuple[Context, Callable[[BaseException | None], None]]:
    """Like :func:`with_cancel`, but ``cancel(cause)`` also records why.

    ``cause(ctx)`` then returns that exception (``err()`` is still a
    :class:`Canceled`); ``cancel(None)`` records the :class:`Canceled`
    itself. Only the first cancellation of the context (by this function or
    by its parent) sets the cause. Raises ``TypeError`` for a cause that is
    not an exception, as well as for a bad parent.
    """
    c = _new_cancel_ctx(parent)

    def cancel(why: BaseException | None = None) -> None:
        c._cancel(True, Canceled(), _check_cause(why))

    return c, cancel


def _new_cancel_ctx(parent: Context) -> _CancelCtx:
    parent = _check_parent(parent)
    c = _CancelCtx(parent, parent.deadline())
    c._propagate(parent)
    return c


def with_deadline(parent: Context, when: float) -> tuple[Context, Callable[[], None]]:
    """A child of ``parent`` that is cancelled at ``when`` (a ``time.monotonic()`` time).

    The child is done at ``when`` (``err()`` a :class:`DeadlineExceeded`),
    when ``cancel()`` is called, or when ``parent`` is done, whichever comes
    first. If ``parent``'s deadline is already earlier, this is
    :func:`with_cancel` (the child keeps the parent's deadline); a ``when``
    already past gives a context that is done at once. The expiry is one
    entry on the shared timer thread, removed by ``cancel()``.

    Raises ``TypeError`` for a bad parent or a ``when`` that is not a
    number, ``ValueError`` for NaN.
    """
    return with_deadline_cause(parent, when, None)


def with_deadline_cause(
    parent: Context, when: float, cause: BaseException | None
) -> tuple[Context, Callable[[], None]]:
    """Like :func:`with_deadline`, with ``cause`` as ``cause(ctx)`` when the deadline passes.

    The returned cancel function does not set a cause.
    """
    parent = _check_parent(parent)
    deadline = check_number(when, "deadline", "a number of seconds")
    why = _check_cause(cause)
    current = parent.deadline()
    if current is not None and current < deadline:
        return with_cancel(parent)  # the parent expires first anyway
    c = _TimerCtx(parent, deadline)
    c._propagate(parent)

    def cancel() -> None:
        c._cancel(True, Canceled(), None)

    if deadline <= time.monotonic():
        c._cancel(True, DeadlineExceeded(), why)
        return c, cancel
    if deadline == math.inf or c.err() is not None:
        return c, cancel  # no timer for a deadline that never comes or a parent already done
    handle: timers.TimerHandle | None = timers.schedule(deadline, partial(_expire, c, why))
    with c._lock:
        if c._err is None:
            c._timer, handle = handle, None
    if handle is not None:
        handle.cancel()  # cancelled while the timer was being set up
    return c, cancel


def _expire(c: _TimerCtx, why: BaseException | None) -> None:
    c._cancel(True, DeadlineExceeded(), why)


def with_timeout(parent: Context, seconds: float | timedelta) -> tuple[Context, Callable[[], None]]:
    """``with_deadline(parent, time.monotonic() + seconds)``; ``seconds`` may be a timedelta."""
    return with_deadline_cause(parent, time.monotonic() + _duration(seconds), None)


def with_timeout_cause(
    parent: Context, seconds: float | timedelta, cause: BaseException | None
) -> tuple[Context, Callable[[], None]]:
    """``with_deadline_cause(parent, time.monotonic() + seconds, cause)``."""
    return with_deadline_cause(parent, time.monotonic() + _duration(seconds), cause)


def with_value(parent: Context, key: object, value: object) -> Context:
    """A child of ``parent`` in which ``key`` maps to ``value``.

    ``ctx.value(k)`` compares ``k`` with ``==``, nearest context first.
    Cancellation and deadline are the parent's. Raises ``TypeError`` for a
    bad parent, a None key (Go's "nil key") or an unhashable key (Go's
    "key is not comparable").
    """
    parent = _check_parent(parent)
    if key is None:
        raise TypeError("nil key")
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"key is not comparable: {type(key).__name__} is unhashable") from None
    return _ValueCtx(parent, key, value)


def without_cancel(parent: Context) -> Context:
    """A child of ``parent`` that keeps its values but is never cancelled.

    Its ``done()`` is :data:`nilchan`, ``err()`` and ``deadline()`` are
    None, and ``cause()`` of it is None, whatever happens to ``parent``.
    Raises ``TypeError`` for a bad parent.
    """
    return _WithoutCancelCtx(_check_parent(parent))


def after_func(ctx: Context, fn: Callable[[], object]) -> Callable[[], bool]:
    """Run ``fn()`` in its own goroutine once ``ctx`` is done; return ``stop``.

    If ``ctx`` is already done, ``fn`` starts at once (in a goroutine, never
    in the caller). Calls on one context are independent. ``stop()``
    unregisters ``fn`` and returns True if that prevented it from running;
    False if it has already been started or stopped. ``stop()`` does not
    wait for ``fn`` to finish. Cancelling ``ctx`` never waits for ``fn``
    either. Raises ``TypeError`` for a bad context or a non-callable ``fn``.
    """
    ctx = _check_parent(ctx)
    check_callable(fn, "after_func")
    a = _AfterFuncCtx(ctx, fn)
    a._propagate(ctx)
    return a.stop


def mark_then_go(
    ctx: Context, mark: Callable[[], object], fn: Callable[[], object]
) -> Callable[[], bool]:
    """:func:`after_func`, with ``mark()`` called first in the thread that cancels ``ctx``.

    For the package's own use (a pool's halt): ``mark()`` runs under the
    hidden context's lock, inside the cancellation, so whatever it records
    is visible to every thread once ``cancel()`` has returned, while the
    slower ``fn`` runs in its goroutine as with ``after_func``. ``mark``
    must be quick, must not block and must not raise. ``stop()`` prevents
    both.
    """
    a = _AfterFuncCtx(ctx, fn, mark)
    a._propagate(ctx)
    return a.stop


def cause(ctx: Context) -> BaseException | None:
    """Why ``ctx`` was cancelled: None while it is not done.

    The cause given to the first cancellation that reached ``ctx`` (through
    a ``with_cancel_cause`` cancel function or a ``*_cause`` deadline), or
    ``ctx.err()`` when none was given.
    """
    err = ctx.err()
    if err is None:
        return None
    cc = ctx.value(_CANCEL_CTX_KEY)
    if isinstance(cc, _CancelCtx):
        with cc._lock:
            why = cc._cause
        if why is not None:
            return why
        # That context is not cancelled: ctx was cancelled by a custom context.
    return err
