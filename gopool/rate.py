"""A token-bucket rate limiter: ``golang.org/x/time/rate`` for Python threads.

A port of ``rate/rate.go`` and ``rate/sometimes.go`` (repo golang/time),
keeping Go's arithmetic: times and durations are whole nanoseconds inside
(a ``time.monotonic()`` float converts to the nearest nanosecond, so
``t0 + 0.1`` is exactly 100 ms after ``t0``), durations are computed from
tokens with Go's float expression and truncated to a nanosecond, and Go's
``InfDuration`` (``2**63 - 1`` ns) comes out as ``math.inf`` seconds.

Invariants of a :class:`Limiter` (each holds whenever ``_lock`` is free):

* ``_tokens`` is the count as of ``_last``; the count at a time ``t`` is
  ``_tokens + rate * (t - _last)``, capped at ``_burst`` (the bucket never
  holds more than the burst, even just after the burst was lowered). A
  ``t`` before ``_last`` counts as ``_last``: time never runs backwards for
  the bucket. ``_last is None`` is Go's zero ``time.Time``: a fresh
  limiter, full whenever it is asked.
* ``_tokens`` goes negative when tokens are reserved ahead of time: the
  debt that later callers wait off, in order of reservation.
* ``_last_event`` is the act time of the latest granted reservation (past
  or future). It is how :meth:`Reservation.cancel_at` tells which of its
  tokens later reservations have already counted on, and keeps those.
* A failed reservation (or a failed ``allow``) changes nothing.
* A :class:`Reservation` never changes after it is made; cancelling it
  changes only its limiter's state, under the limiter's lock.

:meth:`Limiter.wait_n` blocks in a ``select`` on a :class:`~gopool.timers.Timer`
and the context's ``done()`` channel: no polling, and ``KeyboardInterrupt``
reaches a main thread blocked there. A wait that does not complete (its
context ended, or it was interrupted) gives its reserved tokens back.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ._checks import check_callable, check_count, check_int, check_number
from ._duration import seconds as _parse_seconds
from ._waiter import refuse_in_loop
from .chan import RecvChan, async_select, default, nilchan, select
from .context import Context, DeadlineExceeded
from .timers import Timer

__all__ = ["Limiter", "Reservation", "Sometimes", "every", "inf"]

inf: float = math.inf
"""Go's ``rate.Inf``: the infinite rate, which allows every event, even with burst 0."""

_SECOND = 1_000_000_000
_MAX_NS = (1 << 63) - 1  # Go's InfDuration, and the largest time.Duration
_MIN_NS = -(1 << 63)
_MAX_FLOAT_NS = float(_MAX_NS)  # 2**63 as a float, Go's float64(math.MaxInt64)
_GO_INF = sys.float_info.max  # Go's Inf is MaxFloat64; math.inf would make 0 * inf a NaN

_monotonic_ns = time.monotonic_ns


def every(interval: float | timedelta) -> float:
    """Go's ``rate.Every``: the rate of one event per ``interval`` seconds.

    ``interval <= 0`` gives :data:`inf`. Raises ``TypeError`` for an interval
    that is not a number of seconds or a ``timedelta``, ``ValueError`` for NaN.
    """
    seconds = _seconds(interval, "interval")
    if seconds <= 0:
        return inf
    return 1 / seconds


# -- Go's time and unit arithmetic, in whole nanoseconds --


def _seconds(value: object, what: str) -> float:
    return _parse_seconds(value, f"rate: {what}")


def _time_ns(now: object) -> int:
    """A ``time.monotonic()`` reading as whole nanoseconds (Go's ``time.Time``)."""
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise TypeError(f"rate: a time is a time.monotonic() float, not {now!r}")
    if isinstance(now, int):
        return now * _SECOND
    ns = now * 1e9
    if not math.isfinite(ns):
        raise ValueError(f"rate: a time must be a finite number of seconds, not {now!r}")
    return round(ns)


def _sub(t: int | None, u: int | None) -> int:
    """Go's ``t.Sub(u)``, saturating at the Duration bounds; ``None`` is the zero Time."""
    if t is None or u is None:
        # The zero Time is two thousand years before any monotonic reading.
        return 0 if t is u else (_MIN_NS if t is None else _MAX_NS)
    return max(_MIN_NS, min(_MAX_NS, t - u))


def _to_seconds(d: int) -> float:
    """A Duration returned to the caller: float seconds, ``InfDuration`` as ``math.inf``."""
    if d >= _MAX_NS:
        return math.inf
    return d / 1e9


def _go_limit(limit: float) -> float:
    return _GO_INF if limit == math.inf else limit


def _duration_from_tokens(limit: float, tokens: float) -> int:
    """Go's ``Limit.durationFromTokens``: how long ``tokens`` take to accumulate."""
    if limit <= 0:
        return _MAX_NS
    duration = (tokens / _go_limit(limit)) * 1e9
    if duration > _MAX_FLOAT_NS:
        return _MAX_NS
    if duration < -_MAX_FLOAT_NS:
        return _MIN_NS
    return int(duration)  # truncates toward zero, as Go's conversion does


def _tokens_from_duration(limit: float, d: int) -> float:
    """Go's ``Limit.tokensFromDuration``: tokens that accumulate over ``d``."""
    if limit <= 0:
        return 0.0
    # Go's Duration.Seconds(): whole seconds and the remainder, truncated.
    sec, nsec = divmod(abs(d), _SECOND)
    if d < 0:
        sec, nsec = -sec, -nsec
    return (float(sec) + nsec / 1e9) * _go_limit(limit)


def _rate(rate: object) -> float:
    limit = check_number(rate, "rate: limit", "a number of events per second")
    if limit < 0:
        raise ValueError(f"rate: limit must be >= 0 events per second, not {rate!r}")
    return limit


def _count(value: object, what: str) -> int:
    return check_count(value, f"rate: {what}")


class Limiter:
    """Go's ``rate.Limiter``: a token bucket of ``burst`` tokens refilled at ``rate`` per second.

    The bucket starts full. Informally, over any long enough span the
    limiter allows ``rate`` events per second, with bursts of at most
    ``burst`` events. ``rate == inf`` allows everything and ignores the
    burst; ``rate == 0`` allows the burst and then nothing more.

    Three ways to take tokens: :meth:`allow` (take them now or fail),
    :meth:`reserve` (take them now and be told how long to wait before
    acting), :meth:`wait` (block until they are available). The ``_n``
    forms take ``n`` tokens; the ``_at`` and ``_n`` forms that take ``now``
    compute as of that ``time.monotonic()`` reading instead of the clock.

    Safe for any number of threads. Raises ``TypeError`` for a rate that is
    not a number or a burst that is not an ``int``, ``ValueError`` for a
    negative or NaN rate or a negative burst.

        >>> lim = Limiter(every(0.1), 2)
        >>> lim.allow(), lim.allow(), lim.allow()
        (True, True, False)
    """

    # _lock guards every other field.
    __slots__ = ("__weakref__", "_burst", "_last", "_last_event", "_limit", "_lock", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._lock = threading.Lock()
        self._limit = _rate(rate)
        self._burst = _count(burst, "burst")
        self._tokens = float(self._burst)
        self._last: int | None = None
        self._last_event: int | None = None

    # -- inspection --

    @property
    def limit(self) -> float:
        """The maximum overall event rate, in events per second (Go's ``Limit()``)."""
        with self._lock:
            return self._limit

    @property
    def burst(self) -> int:
        """The most tokens one call may take; 0 allows nothing unless the rate is inf."""
        with self._lock:
            return self._burst

    def tokens_at(self, now: float) -> float:
        """The number of tokens available at ``now`` (negative while in debt). Never blocks."""
        t = _time_ns(now)
        with self._lock:
            return self._advance(t)

    def tokens(self) -> float:
        """The number of tokens available now (Go's ``Tokens()``). Never blocks."""
        t = _monotonic_ns()
        with self._lock:
            return self._advance(t)

    def __repr__(self) -> str:
        t = _monotonic_ns()
        with self._lock:
            limit, burst, tokens = self._limit, self._burst, self._advance(t)
        return f"<Limiter limit={limit!r} burst={burst} tokens={tokens:.6g} at {id(self):#x}>"

    # -- taking tokens --

    def allow(self) -> bool:
        """Take one token now if one is available (Go's ``Allow()``). Never blocks."""
        return self._reserve(None, 1, 0).ok

    def allow_n(self, now: float, n: int) -> bool:
        """Whether ``n`` events may happen at ``now``; if so, their tokens are taken.

        Use it to drop or skip events over the limit; otherwise use
        :meth:`reserve_n` or :meth:`wait_n`. Never blocks. Raises
        ``ValueError`` for a negative ``n``.
        """
        return self._reserve(_time_ns(now), _count(n, "n"), 0).ok

    def reserve(self) -> Reservation:
        """Reserve one token now (Go's ``Reserve()``); see :meth:`reserve_n`."""
        return self._reserve(None, 1, _MAX_NS)

    def reserve_n(self, now: float, n: int) -> Reservation:
        """Reserve ``n`` tokens at ``now``: how long the caller must wait before ``n`` events.

        The tokens are taken at once; the caller waits ``delay()`` and then
        acts, or calls ``cancel()`` to give back what it can. The
        reservation is not ``ok`` (and takes nothing) if ``n`` exceeds the
        burst. Never blocks. Raises ``ValueError`` for a negative ``n``.

            >>> lim = Limiter(10, 1)
            >>> r = lim.reserve_n(100.0, 1); r.ok, r.delay_from(100.0)
            (True, 0.0)
            >>> lim.reserve_n(100.0, 1).delay_from(100.0)
            0.1
        """
        return self._reserve(_time_ns(now), _count(n, "n"), _MAX_NS)

    def wait(self, ctx: Context | None = None) -> None:
        """Block until one token is available, and take it (Go's ``Wait``); see :meth:`wait_n`."""
        self.wait_n(ctx, 1)

    def wait_n(self, ctx: Context | None, n: int) -> None:
        """Block until ``n`` tokens are available, and take them (Go's ``WaitN``).

        ``ctx`` (a :class:`~gopool.context.Context`, or None for
        ``background()``) bounds the wait. Raises, having taken nothing:

        * ``ValueError`` if ``n`` exceeds the burst (unless the rate is inf),
          with Go's message;
        * ``ctx.err()`` if the context is already done;
        * :class:`~gopool.context.DeadlineExceeded` at once if the wait
          would outlast the context's deadline.

        If the context ends during the wait, the reserved tokens are given
        back (as far as later reservations allow) and ``ctx.err()`` is
        raised. The wait costs no CPU; ``KeyboardInterrupt`` interrupts it
        and also gives the tokens back.
        """
        pending = self._begin_wait(ctx, n)
        if pending is None:
            return
        index = -1
        try:
            refuse_in_loop("Limiter.wait", _ASYNC_WAIT)
            index = select(*pending.cases)[0]
        finally:
            pending.finish(index)

    async def async_wait(self, ctx: Context | None = None) -> None:
        """Wait from a task for one token, and take it; see :meth:`async_wait_n`."""
        await self.async_wait_n(ctx, 1)

    async def async_wait_n(self, ctx: Context | None, n: int) -> None:
        """Wait from a task until ``n`` tokens are available, and take them; as :meth:`wait_n`.

        Raises what :meth:`wait_n` raises, when it does. Waits without
        blocking the event loop. Cancelling the task gives the reserved
        tokens back (as far as later reservations allow) and
        ``CancelledError`` propagates; a wait whose time had come before
        the cancellation could withdraw it stands: the call returns (the
        tokens taken) and the task's next ``await`` raises
        ``CancelledError``.
        """
        pending = self._begin_wait(ctx, n)
        if pending is None:
            return
        index = -1
        try:
            index = (await async_select(*pending.cases))[0]
        finally:
            pending.finish(index)

    def _begin_wait(self, ctx: Context | None, n: int) -> _Wait | None:
        """Reserve ``n`` tokens for a wait: None if they are there now, else the wait to make.

        Raises, having taken nothing, as :meth:`wait_n` documents.
        """
        n = _count(n, "n")
        with self._lock:
            burst, limit = self._burst, self._limit
        if n > burst and limit != inf:
            raise ValueError(f"rate: Wait(n={n}) exceeds limiter's burst {burst}")
        done: RecvChan[Any] | None = None if ctx is None else ctx.done()
        if done is None:  # no context, or a custom one that is never cancelled
            done = nilchan
        if ctx is not None and select(done.recv, default)[0] == 0:
            _raise_err(ctx)
        wait_limit = _MAX_NS
        deadline = None if ctx is None else ctx.deadline()
        if deadline is not None:
            wait_limit = _sub(_time_ns(deadline), _monotonic_ns())
        r = self._reserve(None, n, wait_limit)
        if not r.ok:
            raise DeadlineExceeded(f"rate: Wait(n={n}) would exceed context deadline")
        delay = r._delay_ns(_monotonic_ns())
        if delay == 0:
            return None
        return _Wait(r, delay, done, ctx)

    # -- changing the limits --

    def set_limit(self, rate: float) -> None:
        """Set a new rate now (Go's ``SetLimit``); see :meth:`set_limit_at`."""
        self._set(_monotonic_ns(), _rate(rate), None)

    def set_limit_at(self, now: float, rate: float) -> None:
        """Set a new rate as of ``now``. Tokens accrued until ``now`` are kept.

        Reservations made before the change (and not yet acted on) may
        violate or underuse the new rate. Never blocks. Raises as the
        constructor does for a bad rate.
        """
        self._set(_time_ns(now), _rate(rate), None)

    def set_burst(self, burst: int) -> None:
        """Set a new burst now (Go's ``SetBurst``); see :meth:`set_burst_at`."""
        self._set(_monotonic_ns(), None, _count(burst, "burst"))

    def set_burst_at(self, now: float, burst: int) -> None:
        """Set a new burst size as of ``now``. Never blocks. Raises for a bad burst."""
        self._set(_time_ns(now), None, _count(burst, "burst"))

    def _set(self, t: int, limit: float | None, burst: int | None) -> None:
        with self._lock:
            tokens = self._advance(t)
            self._last = t
            self._tokens = tokens
            if limit is not None:
                self._limit = limit
            if burst is not None:
                self._burst = burst

    # -- the bucket; _lock held --

    def _reserve(self, t: int | None, n: int, max_future_reserve: int) -> Reservation:
        """Go's ``reserveN``: take ``n`` tokens at ``t`` if the wait is within the bound.

        ``t`` None: now, read under the lock. Go reads the clock before
        taking it, so a caller descheduled in between reserves as of a time
        already past, after later callers: the bucket is spent a little
        faster than its rate. Read under the lock, the times of successive
        reservations never go back and the rate holds exactly.
        """
        with self._lock:
            if t is None:
                t = _monotonic_ns()
            limit = self._limit
            if limit == inf:
                return Reservation(self, True, n, t, 0.0)
            # A zero rate needs no case of its own: the bucket starts full,
            # nothing accrues, and any debt would take InfDuration to repay,
            # so the burst is allowed and then nothing more.
            tokens = self._advance(t) - n
            wait = 0
            if tokens < 0:
                wait = _duration_from_tokens(limit, -tokens)
            if not (n <= self._burst and wait <= max_future_reserve):
                return Reservation(self, False, 0, 0, limit)
            r = Reservation(self, True, n, t + wait, limit)
            self._last = t
            self._tokens = tokens
            self._last_event = r._time_to_act
            return r

    def _advance(self, t: int) -> float:
        """The token count at ``t``, without changing the limiter (Go's ``advance``)."""
        last = self._last
        if last is not None and t < last:
            # Time went backwards (a caller-supplied ``now``): nothing accrues.
            last = t
        tokens = self._tokens + _tokens_from_duration(self._limit, _sub(t, last))
        burst = float(self._burst)
        if tokens > burst:
            tokens = burst
        return tokens


def _raise_err(ctx: Context) -> None:
    err = ctx.err()
    if err is None:  # pragma: no cover - done() closed implies err() is set
        raise RuntimeError("rate: context done without an error")
    raise err


_ASYNC_WAIT = "await lim.async_wait() or await lim.async_wait_n(ctx, n)"


class _Wait:
    """A wait for reserved tokens: the select that ends it, and how it ends.

    Its cases are the timer that fires when the tokens are due (case 0)
    and the context's done channel (case 1).
    """

    __slots__ = ("_ctx", "_r", "_timer", "cases")

    def __init__(self, r: Reservation, delay_ns: int, done: RecvChan[Any], ctx: Context | None):
        self._r = r
        self._ctx = ctx
        self._timer = Timer(delay_ns / 1e9)
        self.cases = (self._timer.c.recv, done.recv)

    def finish(self, index: int) -> None:
        """End the wait after its select chose ``index`` (-1: an exception is propagating).

        Unless the timer fired, the caller will not act (its context ended,
        or it was interrupted or cancelled): the tokens are given back so
        that others may go sooner, and a context's end is raised.
        """
        self._timer.stop()
        if index == 0:
            return
        self._r.cancel()
        if index == 1 and self._ctx is not None:
            _raise_err(self._ctx)  # done() was ready before the timer


class Reservation:
    """Go's ``rate.Reservation``: tokens taken from a :class:`Limiter` for events after a delay.

    Made by :meth:`Limiter.reserve` / :meth:`Limiter.reserve_n`; immutable.
    ``ok`` is False when the limiter could not grant the tokens (``n``
    above the burst, or, for a wait, a delay past the deadline): then
    ``delay()`` is ``math.inf`` and ``cancel()`` does nothing.
    """

    __slots__ = ("_limit", "_limiter", "_ok", "_time_to_act", "_tokens")

    def __init__(self, limiter: Limiter, ok: bool, tokens: int, time_to_act: int, limit: float):
        self._limiter = limiter
        self._ok = ok
        self._tokens = tokens
        self._time_to_act = time_to_act
        self._limit = limit  # the rate when reserved; the limiter's may change later

    @property
    def ok(self) -> bool:
        """Whether the limiter granted the tokens (Go's ``OK()``)."""
        return self._ok

    @property
    def time_to_act(self) -> float | None:
        """The ``time.monotonic()`` time at which the holder may act; None when not ok."""
        if not self._ok:
            return None
        return self._time_to_act / 1e9

    def delay(self) -> float:
        """Seconds to wait from now before acting (Go's ``Delay()``); see :meth:`delay_from`."""
        return _to_seconds(self._delay_ns(_monotonic_ns()))

    def delay_from(self, now: float) -> float:
        """Seconds the holder must wait from ``now`` before acting: 0 means act now.

        ``math.inf`` when the reservation is not ok.
        """
        return _to_seconds(self._delay_ns(_time_ns(now)))

    def _delay_ns(self, t: int) -> int:
        if not self._ok:
            return _MAX_NS
        return max(0, _sub(self._time_to_act, t))

    def cancel(self) -> None:
        """Give the tokens back now (Go's ``Cancel()``); see :meth:`cancel_at`."""
        self._cancel(_monotonic_ns())

    def cancel_at(self, now: float) -> None:
        """Tell the limiter, as of ``now``, that the holder will not act: give back what it can.

        Tokens that later reservations have already counted on stay taken.
        Does nothing for a reservation that is not ok, that reserved
        nothing, whose act time is before ``now``, or whose limiter now has
        an infinite rate. Never blocks beyond the limiter's lock.
        """
        self._cancel(_time_ns(now))

    def _cancel(self, t: int) -> None:
        if not self._ok:
            return
        lim = self._limiter
        with lim._lock:
            if lim._limit == inf or self._tokens == 0 or self._time_to_act < t:
                return
            # Reservations made after this one have counted on the tokens
            # accrued between our act time and the latest act time; those
            # are not ours to give back.
            after = _sub(lim._last_event, self._time_to_act)
            restore = self._tokens - _tokens_from_duration(self._limit, after)
            if restore <= 0:
                return
            tokens = lim._advance(t) + restore
            burst = float(lim._burst)
            if tokens > burst:
                tokens = burst
            lim._last = t
            lim._tokens = tokens
            if self._time_to_act == lim._last_event:
                prev_event = self._time_to_act + _duration_from_tokens(
                    self._limit, float(-self._tokens)
                )
                if not prev_event < t:
                    lim._last_event = prev_event

    def __repr__(self) -> str:
        if not self._ok:
            return "<Reservation not ok>"
        return (
            f"<Reservation ok tokens={self._tokens} "
            f"delay={_to_seconds(self._delay_ns(_monotonic_ns())):.6g}>"
        )


class Sometimes:
    """Go's ``rate.Sometimes``: run a function only some of the times :meth:`do` is called.

    ``first=N`` runs it on the first N calls, ``every=M`` on every Mth call
    (the 1st, the M+1st, ...), ``interval=S`` when S seconds (or a
    ``timedelta``) have passed since it last ran. The filters combine as a
    union, and the first call always runs it: ``Sometimes()`` behaves like
    ``Once``. Zero or negative settings are off, as in Go.

    Thread-safe: concurrent calls run one at a time, ``fn`` under the lock,
    so keep it light. Raises ``TypeError`` for a ``first``/``every`` that is
    not an ``int`` or an interval that is not seconds or a ``timedelta``.
    """

    # _lock guards _count, _last and _running.
    __slots__ = ("_count", "_every", "_first", "_interval", "_last", "_lock", "_running")

    def __init__(self, *, first: int = 0, every: int = 0, interval: float | timedelta = 0.0):
        for name, value in (("first", first), ("every", every)):
            check_int(value, f"rate: Sometimes {name}")
        self._first = first
        self._every = every
        self._interval = _seconds(interval, "Sometimes interval")
        self._lock = threading.RLock()  # reentrant only to detect a call from inside fn
        self._count = 0
        self._last = 0.0
        self._running = False

    @property
    def first(self) -> int:
        """Run ``fn`` on this many first calls."""
        return self._first

    @property
    def every(self) -> int:
        """Run ``fn`` on every this-many-th call, starting with the first."""
        return self._every

    @property
    def interval(self) -> float:
        """Run ``fn`` when this many seconds have passed since it last ran."""
        return self._interval

    def do(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` if the filters allow this call (Go's ``Do``).

        Blocks while another thread's call runs. An exception from ``fn``
        propagates, and the call then does not count (as a Go panic leaves
        the count alone). Raises ``TypeError`` for a non-callable, and
        ``RuntimeError`` if ``fn`` calls ``do`` on the same object (Go
        deadlocks).
        """
        check_callable(fn, "rate: Sometimes.do")
        with self._lock:
            if self._running:
                raise RuntimeError("rate: Sometimes.do called from its own function: deadlock")
            count = self._count
            if (
                count == 0
                or (self._first > 0 and count < self._first)
                or (self._every > 0 and count % self._every == 0)
                or (self._interval > 0 and time.monotonic() - self._last >= self._interval)
            ):
                self._running = True
                try:
                    fn()
                finally:
                    self._running = False
                if self._interval > 0:
                    self._last = time.monotonic()
            self._count = count + 1

    def __repr__(self) -> str:
        with self._lock:
            count = self._count
        return (
            f"<Sometimes first={self._first} every={self._every} "
            f"interval={self._interval!r} calls={count}>"
        )
