"""Tests for gopool.context: ports of Go's src/context tests, plus tree-scale checks.

Go's tests live in src/context/x_test.go (the public API) and
src/context/context_test.go (the XTest* helpers that look inside the
implementation, ported here as white-box checks of ``_children``).
TestAllocs is not ported: allocation counts have no Python counterpart.

Go's ``otherContext{ctx}`` (a context type the package did not make, which
delegates to ``ctx``) is :class:`OtherContext` here.
"""

from __future__ import annotations

import gc
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from conftest import until

from gopool import context as C
from gopool import timers
from gopool.chan import Chan, default, go, nilchan, select
from gopool.context import (
    Canceled,
    Context,
    DeadlineExceeded,
    after_func,
    background,
    cause,
    todo,
    with_cancel,
    with_cancel_cause,
    with_deadline,
    with_deadline_cause,
    with_timeout,
    with_timeout_cause,
    with_value,
    without_cancel,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.parallel_safe]

SHORT = 0.001  # Go's shortDuration
VERY_LONG = 1000 * 3600.0  # Go's veryLongDuration
WAIT = 10.0  # how long a test waits for something that must happen (wide slack)


class OtherContext(Context):
    """Go's otherContext: a Context type this module did not make, delegating to ``ctx``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def done(self) -> Any:
        return self.ctx.done()

    def err(self) -> Exception | None:
        return self.ctx.err()

    def deadline(self) -> float | None:
        return self.ctx.deadline()

    def value(self, key: object) -> Any:
        return self.ctx.value(key)


class MyDoneCtx(OtherContext):
    """Go's myDoneCtx: delegates everything but ``done()``, which is a fresh channel."""

    def done(self) -> Any:
        return Chan[None]()


def is_done(ctx: Context) -> bool:
    """Go's ``select { case <-ctx.Done(): ...; default: }``."""
    index, _ = select(ctx.done().recv, default)
    return index == 0


def wait_done(ctx: Context, what: str = "context") -> None:
    """Block until ``ctx`` is done; fail after WAIT seconds (Go's quiescent(t))."""
    try:
        ctx.done().recv(timeout=WAIT)
    except TimeoutError:
        raise AssertionError(f"{what} not done after {WAIT} s: {ctx!r}") from None


def children(ctx: Context) -> set[Any]:
    """White-box: the live children registered with a cancellable context."""
    assert isinstance(ctx, C._CancelCtx)
    with ctx._lock:
        return set(ctx._children or ())


def goroutines_started() -> int:
    """White-box: Go's ``goroutines`` counter of watchers started for custom parents."""
    with C._goroutines_lock:
        return C._goroutines


def run_threads(fns: Sequence[Callable[[], object]]) -> None:
    """Run every fn in its own thread at once; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(fns))

    def run(fn: Callable[[], object]) -> None:
        try:
            start.wait(WAIT)
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,), daemon=True) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), "a thread is stuck"
    if errors:
        raise errors[0]


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_watch_parent" in t.name]


# -- x_test.go: the basics --


def test_background() -> None:
    """Port of Go's TestBackground in src/context/x_test.go."""
    c = background()
    assert c is not None
    assert not is_done(c)
    assert c.done() is nilchan
    assert c.err() is None and c.deadline() is None and c.value("k") is None
    assert repr(c) == "context.Background"
    assert str(c) == "context.Background"
    assert background() is c


def test_todo() -> None:
    """Port of Go's TestTODO in src/context/x_test.go."""
    c = todo()
    assert c is not None
    assert not is_done(c)
    assert c.done() is nilchan
    assert repr(c) == "context.TODO"
    assert c is not background()


def test_with_cancel() -> None:
    """Port of Go's TestWithCancel in src/context/x_test.go."""
    c1, cancel = with_cancel(background())
    assert repr(c1) == "context.Background.WithCancel"

    o = OtherContext(c1)
    c2, _ = with_cancel(o)
    contexts = [c1, o, c2]

    for i, c in enumerate(contexts):
        assert c.done() is not nilchan, i
        assert c.err() is None, i
        assert not is_done(c), i

    cancel()  # propagates synchronously
    for i, c in enumerate(contexts):
        assert is_done(c), i
        err = c.err()
        assert isinstance(err, Canceled), (i, err)
        assert c.err() is err, "err() must return the same instance every time"
        assert str(err) == "context canceled"


def test_parent_finishes_child() -> None:
    """Port of Go's TestParentFinishesChild (XTestParentFinishesChild in context_test.go)."""
    # Context tree:
    # parent -> cancel_child
    # parent -> value_child -> timer_child
    # parent -> value_child -> after_func child
    parent, cancel = with_cancel(background())
    cancel_child, stop1 = with_cancel(parent)
    value_child = with_value(parent, "key", "value")
    timer_child, stop2 = with_timeout(value_child, VERY_LONG)
    after_stop = after_func(value_child, lambda: None)
    try:
        for c in (parent, cancel_child, timer_child, value_child):
            assert not is_done(c)

        # The parent's children are the three cancellable descendants; the
        # value context in between is skipped.
        kids = children(parent)
        assert len(kids) == 3
        assert cancel_child in kids and timer_child in kids
        assert C._parent_cancel_ctx(value_child, value_child.done()) is parent  # type: ignore[arg-type]

        cancel()
        assert children(parent) == set()
        assert parent._children is None

        for name, c in [
            ("parent", parent),
            ("cancel_child", cancel_child),
            ("value_child", value_child),
            ("timer_child", timer_child),
        ]:
            assert is_done(c), name
            assert isinstance(c.err(), Canceled), name
        assert not after_stop(), "the after_func child was started by the cancel"

        # A child made on a cancelled parent is cancelled from the start.
        precancelled = with_value(parent, "key", "value")
        assert is_done(precancelled)
        assert isinstance(precancelled.err(), Canceled)
    finally:
        stop1()
        stop2()


def test_child_finishes_first() -> None:
    """Port of Go's TestChildFinishesFirst (XTestChildFinishesFirst in context_test.go)."""
    cancellable, stop = with_cancel(background())
    try:
        for parent in (background(), cancellable):
            child, cancel = with_cancel(parent)
            assert not is_done(parent) and not is_done(child)

            pc = parent if isinstance(parent, C._CancelCtx) else None
            assert child._registered is pc  # type: ignore[attr-defined]
            if pc is not None:
                assert children(pc) == {child}

            cancel()

            if pc is not None:
                assert children(pc) == set(), "the child's cancel did not remove it"
            assert is_done(child)
            assert isinstance(child.err(), Canceled)
            # The parent is untouched.
            assert not is_done(parent)
            assert parent.err() is None
    finally:
        stop()


def check_deadline(c: Context, name: str) -> None:
    """Go's testDeadline: ``c`` expires, with a DeadlineExceeded."""
    wait_done(c, name)
    err = c.err()
    assert isinstance(err, DeadlineExceeded), (name, err)
    assert str(err) == "context deadline exceeded"


def test_deadline() -> None:
    """Port of Go's TestDeadline in src/context/x_test.go."""
    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    assert repr(c).startswith("context.Background.WithDeadline(")
    check_deadline(c, "WithDeadline")

    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    check_deadline(OtherContext(c), "WithDeadline+otherContext")

    c, _ = with_deadline(background(), time.monotonic() + SHORT)
    c, _ = with_deadline(OtherContext(c), time.monotonic() + VERY_LONG)
    check_deadline(c, "WithDeadline+otherContext+WithDeadline")

    c, _ = with_deadline(background(), time.monotonic() - SHORT)
    check_deadline(c, "WithDeadline+inthepast")

    c, _ = with_deadline(background(), time.monotonic())
    check_deadline(c, "WithDeadline+now")


def test_timeout() -> None:
    """Port of Go's TestTimeout in src/context/x_test.go."""
    c, _ = with_timeout(background(), SHORT)
    assert repr(c).startswith("context.Background.WithDeadline(")
    check_deadline(c, "WithTimeout")

    c, _ = with_timeout(background(), SHORT)
    check_deadline(OtherContext(c), "WithTimeout+otherContext")

    c, _ = with_timeout(background(), SHORT)
    c, _ = with_timeout(OtherContext(c), VERY_LONG)
    check_deadline(c, "WithTimeout+otherContext+WithTimeout")

    c, _ = with_timeout(background(), timedelta(milliseconds=1))
    check_deadline(c, "WithTimeout(timedelta)")


def test_canceled_timeout() -> None:
    """Port of Go's TestCanceledTimeout in src/context/x_test.go."""
    c, stop = with_timeout(background(), 1.0)
    try:
        c2, cancel = with_timeout(OtherContext(c), VERY_LONG)
        cancel()  # propagates synchronously
        assert is_done(c2)
        assert isinstance(c2.err(), Canceled)
        assert not is_done(c)
    finally:
        stop()


class Key1:
    """Go's ``type key1 int``: equal only to a Key1 of the same number; no String method."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return type(other) is Key1 and other.n == self.n

    def __hash__(self) -> int:
        return hash((Key1, self.n))


class Key2(Key1):
    """Go's ``type key2 int`` with its String method."""

    def __eq__(self, other: object) -> bool:
        return type(other) is Key2 and other.n == self.n

    def __hash__(self) -> int:
        return hash((Key2, self.n))

    def __str__(self) -> str:
        return f"Key2({self.n})"


k1 = Key1(1)
k2 = Key2(1)  # same number as k1, different type
k3 = Key2(3)  # same type as k2, different number


def test_values() -> None:
    """Port of Go's TestValues in src/context/x_test.go."""

    def check(c: Context, nm: str, v1: str, v2: str, v3: str) -> None:
        for key, want in ((k1, v1), (k2, v2), (k3, v3)):
            got = c.value(key)
            assert got == (want or None), f"{nm}.value({key}) = {got!r}, want {want!r}"

    c0 = background()
    check(c0, "c0", "", "", "")

    c1 = with_value(background(), k1, "c1k1")
    check(c1, "c1", "c1k1", "", "")
    assert repr(c1) == "context.Background.WithValue(test_context.Key1, c1k1)"

    c2 = with_value(c1, k2, "c2k2")
    check(c2, "c2", "c1k1", "c2k2", "")
    assert repr(c2) == (
        "context.Background.WithValue(test_context.Key1, c1k1).WithValue(Key2(1), c2k2)"
    )

    c3 = with_value(c2, k3, "c3k3")
    check(c3, "c2", "c1k1", "c2k2", "c3k3")

    c4 = with_value(c3, k1, None)
    check(c4, "c4", "", "c2k2", "c3k3")
    assert repr(c4) == (
        "context.Background.WithValue(test_context.Key1, c1k1).WithValue(Key2(1), c2k2)"
        ".WithValue(Key2(3), c3k3).WithValue(test_context.Key1, None)"
    )

    o0 = OtherContext(background())
    check(o0, "o0", "", "", "")

    o1 = OtherContext(with_value(background(), k1, "c1k1"))
    check(o1, "o1", "c1k1", "", "")

    o2 = with_value(o1, k2, "o2k2")
    check(o2, "o2", "c1k1", "o2k2", "")

    o3 = OtherContext(c4)
    check(o3, "o3", "", "c2k2", "c3k3")

    o4 = with_value(o3, k3, None)
    check(o4, "o4", "", "c2k2", "")


def test_values_compare_with_eq_nearest_first() -> None:
    """Keys are compared with ``==`` (equal, distinct objects match); the nearest binding wins."""
    ctx = with_value(background(), (1, "a"), "outer")
    ctx, cancel = with_cancel(ctx)
    ctx = with_value(ctx, (1, "a"), "inner")
    ctx = without_cancel(ctx)
    assert ctx.value((1, "a")) == "inner"
    assert ctx.value((1, "b")) is None
    cancel()
    assert ctx.value((1, "a")) == "inner"


def test_simultaneous_cancels() -> None:
    """Port of Go's TestSimultaneousCancels in src/context/x_test.go."""
    root, cancel = with_cancel(background())
    m: dict[Context, Callable[[], None]] = {root: cancel}
    q = [root]
    # A tree of contexts, four children per node.
    while q and len(m) < 100:
        parent = q.pop(0)
        for _ in range(4):
            ctx, cancel = with_cancel(parent)
            m[ctx] = cancel
            q.append(ctx)
    cancels = list(m.values())
    random.shuffle(cancels)
    # Every cancel in its own thread, all at once.
    run_threads(cancels)
    contexts = list(m)
    random.shuffle(contexts)
    for ctx in contexts:
        wait_done(ctx)
        assert isinstance(ctx.err(), Canceled)
    assert children(root) == set()


def test_interlocked_cancels() -> None:
    """Port of Go's TestInterlockedCancels in src/context/x_test.go."""
    parent, cancel_parent = with_cancel(background())
    child, cancel_child = with_cancel(parent)

    def on_parent_done() -> None:
        parent.done().recv()
        cancel_child()

    t = go(on_parent_done)
    cancel_parent()
    wait_done(child, "child")
    t.join(WAIT)
    assert not t.is_alive()


def layers(seed: int, test_timeout: bool) -> None:
    """Go's testLayers: a random stack of value, cancel and timeout layers."""
    r = random.Random(seed)
    prefix = f"seed={seed}: "
    vals: list[object] = []
    cancels: list[Callable[[], None]] = []
    num_timers = 0
    ctx: Context = background()
    i = 0
    while i < 30 or num_timers == 0 or not cancels or not vals:
        i += 1
        kind = r.randrange(3)
        if kind == 0:
            v = object()
            ctx = with_value(ctx, v, v)
            vals.append(v)
        elif kind == 1:
            ctx, cancel = with_cancel(ctx)
            cancels.append(cancel)
        else:
            ctx, cancel = with_timeout(ctx, SHORT if test_timeout else VERY_LONG)
            cancels.append(cancel)
            num_timers += 1

    def check_values(when: str) -> None:
        for key in vals:
            assert ctx.value(key) is key, f"{prefix}{when}: value lost"

    if not test_timeout:
        assert not is_done(ctx), f"{prefix}ctx should not be cancelled yet"
    assert repr(ctx).startswith("context.Background."), repr(ctx)
    check_values("before cancel")
    try:
        if test_timeout:
            wait_done(ctx, f"{prefix}ctx")
            check_values("after timeout")
        else:
            r.choice(cancels)()
            assert is_done(ctx), f"{prefix}ctx should be cancelled"
            check_values("after cancel")
    finally:
        for cancel in cancels:
            cancel()


def test_layers_cancel() -> None:
    """Port of Go's TestLayersCancel in src/context/x_test.go."""
    layers(time.time_ns(), False)


def test_layers_timeout() -> None:
    """Port of Go's TestLayersTimeout in src/context/x_test.go."""
    layers(time.time_ns(), True)


def test_cancel_removes() -> None:
    """Port of Go's TestCancelRemoves (XTestCancelRemoves in context_test.go)."""
    ctx, _ = with_cancel(background())
    assert len(children(ctx)) == 0
    _, cancel = with_cancel(ctx)
    assert len(children(ctx)) == 1
    cancel()
    assert len(children(ctx)) == 0, "after cancelling a with_cancel child"

    ctx, _ = with_cancel(background())
    _, cancel = with_timeout(ctx, 60 * 60)
    assert len(children(ctx)) == 1
    cancel()
    assert len(children(ctx)) == 0, "after cancelling a with_timeout child"

    ctx, _ = with_cancel(background())
    stop = after_func(ctx, lambda: None)
    assert len(children(ctx)) == 1
    assert stop()
    assert len(children(ctx)) == 0, "after stopping an after_func child"


def test_with_cancel_canceled_parent() -> None:
    """Port of Go's TestWithCancelCanceledParent in src/context/x_test.go."""
    parent, pcancel = with_cancel_cause(background())
    why = ValueError("Because!")
    pcancel(why)

    c, _ = with_cancel(parent)
    assert is_done(c), "child not done immediately upon construction"
    assert isinstance(c.err(), Canceled)
    assert cause(c) is why


def test_with_cancel_simultaneously_canceled_parent() -> None:
    """Port of Go's TestWithCancelSimultaneouslyCanceledParent in src/context/x_test.go."""
    for _ in range(100):
        parent, pcancel = with_cancel_cause(background())
        why = ValueError("Because!")
        t = go(pcancel, why)
        c, _ = with_cancel(parent)
        wait_done(c)
        assert isinstance(c.err(), Canceled)
        assert cause(c) is why
        t.join(WAIT)


def test_with_value_checks_key() -> None:
    """Port of Go's TestWithValueChecksKey in src/context/x_test.go."""
    with pytest.raises(TypeError, match="key is not comparable"):
        with_value(background(), bytearray(b"foo"), "bar")
    with pytest.raises(TypeError, match=r"^nil key$"):
        with_value(background(), None, "bar")


def test_invalid_derived_fail() -> None:
    """Port of Go's TestInvalidDerivedFail in src/context/x_test.go (and the other with_*)."""
    nil = "cannot create context from nil parent"
    calls: list[Callable[[], object]] = [
        lambda: with_cancel(None),  # type: ignore[arg-type]
        lambda: with_cancel_cause(None),  # type: ignore[arg-type]
        lambda: with_deadline(None, time.monotonic() + SHORT),  # type: ignore[arg-type]
        lambda: with_deadline_cause(None, time.monotonic(), None),  # type: ignore[arg-type]
        lambda: with_timeout(None, SHORT),  # type: ignore[arg-type]
        lambda: with_timeout_cause(None, SHORT, None),  # type: ignore[arg-type]
        lambda: with_value(None, "foo", "bar"),  # type: ignore[arg-type]
        lambda: without_cancel(None),  # type: ignore[arg-type]
        lambda: after_func(None, lambda: None),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TypeError, match=nil):
            call()
    with pytest.raises(TypeError, match="not a Context"):
        with_cancel(object())  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    """Wrong kinds raise TypeError, NaN raises ValueError, each naming the problem."""
    with pytest.raises(TypeError, match="not callable"):
        after_func(background(), 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="number of seconds"):
        with_timeout(background(), "1s")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="number of seconds"):
        with_deadline(background(), True)
    with pytest.raises(ValueError, match="NaN"):
        with_deadline(background(), float("nan"))
    with pytest.raises(TypeError, match="cause"):
        with_timeout_cause(background(), 1.0, "slow")  # type: ignore[arg-type]
    _, cancel = with_cancel_cause(background())
    with pytest.raises(TypeError, match="cause"):
        cancel("why")  # type: ignore[arg-type]
    cancel(None)


def test_deadline_exceeded_supports_timeout() -> None:
    """Port of Go's TestDeadlineExceededSupportsTimeout: it is a TimeoutError."""
    assert issubclass(DeadlineExceeded, TimeoutError)
    c, _ = with_timeout(background(), 0)
    err = c.err()
    assert isinstance(err, TimeoutError)
    with pytest.raises(TimeoutError):
        raise err
    assert not issubclass(Canceled, TimeoutError)


FOREVER = 1e6
parent_cause = ValueError("parentCause")
child_cause = ValueError("childCause")
too_slow = ValueError("tooSlow")
finished_early = ValueError("finishedEarly")


def _cancelled(make: Callable[[Context], tuple[Context, Callable[[], None]]]) -> Context:
    ctx, cancel = make(background())
    cancel()
    return ctx


def _parent_then_child(first: str, parent_causes: bool, child_causes: bool) -> Context:
    """A parent and child, each made with or without a cause, cancelled in ``first`` order."""
    if parent_causes:
        ctx, pc = with_cancel_cause(background())
        cancel_parent: Callable[[], None] = lambda: pc(parent_cause)  # noqa: E731
    else:
        ctx, cancel_parent = with_cancel(background())
    if child_causes:
        ctx, cc = with_cancel_cause(ctx)
        cancel_child: Callable[[], None] = lambda: cc(child_cause)  # noqa: E731
    else:
        ctx, cancel_child = with_cancel(ctx)
    if first == "parent":
        cancel_parent()
        cancel_child()
    else:
        cancel_child()
        cancel_parent()
    return ctx


def _timeout_cause_stacked(seconds: float) -> Context:
    ctx, cancel = with_cancel_cause(background())
    ctx, _ = with_timeout_cause(ctx, seconds, too_slow)
    cancel(finished_early)
    return ctx


def _cancel_cause_nil() -> Context:
    ctx, cancel = with_cancel_cause(background())
    cancel(None)
    return ctx


def _cancel_cause_given() -> Context:
    ctx, cancel = with_cancel_cause(background())
    cancel(parent_cause)
    return ctx


def _without_cancel_cancelled() -> Context:
    ctx, cancel = with_cancel_cause(background())
    ctx = without_cancel(ctx)
    cancel(finished_early)
    return ctx


def _without_cancel_timeout() -> Context:
    ctx, cancel = with_timeout_cause(background(), 0, too_slow)
    ctx = without_cancel(ctx)
    cancel()
    return ctx


CAUSE_TABLE: list[tuple[str, Callable[[], Context], type | None, BaseException | str | None]] = [
    # (name, make the context, err type, cause: an instance, "err" for err() itself, or None)
    ("Background", background, None, None),
    ("TODO", todo, None, None),
    ("WithCancel", lambda: _cancelled(with_cancel), Canceled, "err"),
    ("WithCancelCause", _cancel_cause_given, Canceled, parent_cause),
    ("WithCancelCause nil", _cancel_cause_nil, Canceled, "err"),
    (
        "WithCancelCause: parent cause before child",
        lambda: _parent_then_child("parent", True, True),
        Canceled,
        parent_cause,
    ),
    (
        "WithCancelCause: parent cause after child",
        lambda: _parent_then_child("child", True, True),
        Canceled,
        child_cause,
    ),
    (
        "WithCancelCause: parent cause before nil",
        lambda: _parent_then_child("parent", True, False),
        Canceled,
        parent_cause,
    ),
    (
        "WithCancelCause: parent cause after nil",
        lambda: _parent_then_child("child", True, False),
        Canceled,
        "err",
    ),
    (
        "WithCancelCause: child cause after nil",
        lambda: _parent_then_child("parent", False, True),
        Canceled,
        "err",
    ),
    (
        "WithCancelCause: child cause before nil",
        lambda: _parent_then_child("child", False, True),
        Canceled,
        child_cause,
    ),
    ("WithTimeout", lambda: _cancelled(lambda p: with_timeout(p, 0)), DeadlineExceeded, "err"),
    (
        "WithTimeout canceled",
        lambda: _cancelled(lambda p: with_timeout(p, FOREVER)),
        Canceled,
        "err",
    ),
    (
        "WithTimeoutCause",
        lambda: _cancelled(lambda p: with_timeout_cause(p, 0, too_slow)),
        DeadlineExceeded,
        too_slow,
    ),
    (
        "WithTimeoutCause canceled",
        lambda: _cancelled(lambda p: with_timeout_cause(p, FOREVER, too_slow)),
        Canceled,
        "err",
    ),
    ("WithTimeoutCause stacked", lambda: _timeout_cause_stacked(0), DeadlineExceeded, too_slow),
    (
        "WithTimeoutCause stacked canceled",
        lambda: _timeout_cause_stacked(FOREVER),
        Canceled,
        finished_early,
    ),
    ("WithoutCancel", lambda: without_cancel(background()), None, None),
    ("WithoutCancel canceled", _without_cancel_cancelled, None, None),
    ("WithoutCancel timeout", _without_cancel_timeout, None, None),
]


@pytest.mark.parametrize(
    ("make", "err_type", "want_cause"),
    [pytest.param(m, e, c, id=name) for name, m, e, c in CAUSE_TABLE],
)
def test_cause(
    make: Callable[[], Context], err_type: type | None, want_cause: BaseException | str | None
) -> None:
    """Port of Go's TestCause in src/context/x_test.go (one case per parameter)."""
    ctx = make()
    err = ctx.err()
    if err_type is None:
        assert err is None
    else:
        assert type(err) is err_type
    got = cause(ctx)
    if want_cause == "err":
        assert got is err
    else:
        assert got is want_cause


def test_cause_race() -> None:
    """Port of Go's TestCauseRace: cause() read while another thread cancels."""
    why = ValueError("TestCauseRace")
    ctx, cancel = with_cancel_cause(background())
    t = go(cancel, why)
    end = time.monotonic() + WAIT
    # Poll cause(), not done(), as Go does: it checks the cause is published
    # safely to a reader that never synchronises through the channel.
    while (got := cause(ctx)) is None:
        assert time.monotonic() < end, "cancel never became visible"
        time.sleep(0)
    assert got is why
    t.join(WAIT)


def test_without_cancel() -> None:
    """Port of Go's TestWithoutCancel in src/context/x_test.go, plus a cancelled parent."""
    key, value = "key", "value"
    parent, cancel = with_timeout(with_value(background(), key, value), VERY_LONG)
    ctx = without_cancel(parent)
    assert ctx.deadline() is None
    assert ctx.done() is nilchan
    assert ctx.err() is None
    assert ctx.value(key) == value
    assert repr(ctx).endswith(".WithoutCancel")

    child, cancel_child = with_cancel(ctx)
    cancel()
    assert is_done(parent)
    assert ctx.err() is None and cause(ctx) is None and not is_done(ctx)
    assert not is_done(child), "a parent's cancel crossed without_cancel"
    cancel_child()


def test_custom_context_propagation() -> None:
    """Port of Go's TestCustomContextPropagation in src/context/x_test.go."""

    class CustomDoneContext(OtherContext):
        def __init__(self, ctx: Context, donec: Chan[None]) -> None:
            super().__init__(ctx)
            self.donec = donec

        def done(self) -> Any:
            return self.donec

    why = ValueError("TestCustomContextPropagation")
    donec = Chan[None]()
    ctx1, cancel1 = with_cancel_cause(background())
    ctx2 = CustomDoneContext(ctx1, donec)
    ctx3, cancel3 = with_cancel(ctx2)
    try:
        cancel1(why)
        donec.close()
        wait_done(ctx3)
        assert isinstance(ctx3.err(), Canceled)
        assert cause(ctx3) is why
    finally:
        cancel3()


class CustomCauseContext(Context):
    """Go's customCauseContext: a hand-made cancellable context with no values."""

    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.donec = Chan[None]()
        self.error: Exception | None = None
        self.cancel_child: Callable[[], None] | None = None

    def done(self) -> Any:
        return self.donec

    def err(self) -> Exception | None:
        with self.mu:
            return self.error

    def cancel(self) -> None:
        with self.mu:
            self.error = Canceled()
            self.donec.close()
            cancel_child = self.cancel_child
        if cancel_child is not None:
            cancel_child()


def test_custom_context_cause() -> None:
    """Port of Go's TestCustomContextCause in src/context/x_test.go."""
    # A cancelled custom context: err and cause are its Canceled.
    ccc = CustomCauseContext()
    ccc.cancel()
    assert isinstance(ccc.err(), Canceled)
    assert cause(ccc) is ccc.err()

    # A child of a custom context cancelled with a cause: the child has the
    # cause, the custom parent is not cancelled.
    ccc = CustomCauseContext()
    ctx, cancel_cause = with_cancel_cause(ccc)
    why = ValueError("TestCustomContextCause")
    cancel_cause(why)
    assert isinstance(ctx.err(), Canceled)
    assert cause(ctx) is why
    assert ccc.err() is None
    assert cause(ccc) is None

    # Now cancelling the custom parent changes nothing for the child.
    ccc.cancel()
    assert isinstance(ctx.err(), Canceled)
    assert cause(ctx) is why
    assert isinstance(ccc.err(), Canceled)
    assert cause(ccc) is ccc.err()

    # A custom context that cancels its child itself.
    ccc = CustomCauseContext()
    ctx, cancel = with_cancel(ccc)
    ccc.cancel_child = cancel
    ccc.cancel()
    assert isinstance(ctx.err(), Canceled)
    assert cause(ctx) is ctx.err()
    assert isinstance(ccc.err(), Canceled)
    assert cause(ccc) is ccc.err()


@pytest.mark.thread_unsafe(reason="counts the process's goroutines")
def test_custom_context_goroutines() -> None:
    """Port of Go's TestCustomContextGoroutines (XTestCustomContextGoroutines).

    A watcher goroutine is started only for a custom parent whose done
    channel is not that of a context of this module behind it.
    """
    g = goroutines_started()

    def check_no_goroutine() -> None:
        assert goroutines_started() == g, f"{goroutines_started() - g} goroutines created"

    def check_created_goroutine() -> None:
        nonlocal g
        now = goroutines_started()
        assert now == g + 1, f"{now - g} goroutines created, want 1"
        g = now

    _, cancel0 = with_cancel(MyDoneCtx(background()))
    cancel0()
    check_created_goroutine()

    _, cancel0 = with_timeout(MyDoneCtx(background()), VERY_LONG)
    cancel0()
    check_created_goroutine()

    check_no_goroutine()

    ctx1, cancel1 = with_cancel(background())
    check_no_goroutine()

    ctx2 = OtherContext(ctx1)
    ctx3, cancel3 = with_cancel(ctx2)
    check_no_goroutine()

    _, cancel3b = with_cancel(MyDoneCtx(ctx2))
    check_created_goroutine()  # ctx1's done is not MyDoneCtx's: must not be used

    ctx4, cancel4 = with_timeout(ctx3, VERY_LONG)
    check_no_goroutine()

    ctx5, cancel5 = with_cancel(ctx4)
    check_no_goroutine()

    cancel5()
    check_no_goroutine()

    _, cancel6 = with_timeout(ctx5, VERY_LONG)
    check_no_goroutine()

    # Children of a cancelled context need no watcher either.
    cancel6()
    cancel1()
    _, cancel7 = with_cancel(ctx5)
    check_no_goroutine()

    for cancel in (cancel7, cancel4, cancel3b, cancel3):
        cancel()
    check_no_goroutine()


@pytest.mark.thread_unsafe(reason="counts the process's goroutines")
def test_custom_parent_with_after_func_method() -> None:
    """A custom parent with ``after_func(fn) -> stop`` is used instead of a goroutine.

    As Go's afterFuncer: the child registers through it, and cancelling the
    child calls the stop function it returned.
    """

    class AfterFuncCtx(OtherContext):
        def __init__(self, ctx: Context) -> None:
            super().__init__(ctx)
            self.registered: list[Callable[[], object]] = []
            self.stops = 0

        def done(self) -> Any:
            return self.own_done

        own_done = Chan[None]()

        def after_func(self, fn: Callable[[], object]) -> Callable[[], bool]:
            self.registered.append(fn)

            def stop() -> bool:
                self.stops += 1
                return True

            return stop

    g = goroutines_started()
    parent = AfterFuncCtx(background())
    child, cancel = with_cancel(parent)
    assert len(parent.registered) == 1 and goroutines_started() == g
    cancel()
    assert parent.stops == 1, "cancelling the child did not call the parent's stop"

    child, cancel = with_cancel(parent)
    parent.registered[-1]()  # the parent reports that it is done
    assert is_done(child)
    cancel()


def test_after_func_called_after_cancel() -> None:
    """Port of Go's TestAfterFuncCalledAfterCancel in src/context/x_test.go."""
    ctx, cancel = with_cancel(background())
    donec = Chan[None]()
    stop = after_func(ctx, donec.close)
    with pytest.raises(TimeoutError):
        donec.recv(timeout=SHORT)  # not called before the context is done
    cancel()
    donec.recv(timeout=WAIT)
    assert not stop()


def test_after_func_called_after_timeout() -> None:
    """Port of Go's TestAfterFuncCalledAfterTimeout in src/context/x_test.go."""
    ctx, cancel = with_timeout(background(), SHORT)
    try:
        donec = Chan[None]()
        after_func(ctx, donec.close)
        donec.recv(timeout=WAIT)
    finally:
        cancel()


def test_after_func_called_immediately() -> None:
    """Port of Go's TestAfterFuncCalledImmediately in src/context/x_test.go."""
    ctx, cancel = with_cancel(background())
    cancel()
    donec = Chan[None]()
    caller = threading.current_thread()
    ran_in: list[threading.Thread] = []

    def fn() -> None:
        ran_in.append(threading.current_thread())
        donec.close()

    stop = after_func(ctx, fn)
    donec.recv(timeout=WAIT)
    assert ran_in[0] is not caller, "fn must run in its own goroutine"
    assert not stop()


def test_after_func_not_called_after_stop() -> None:
    """Port of Go's TestAfterFuncNotCalledAfterStop in src/context/x_test.go."""
    ctx, cancel = with_cancel(background())
    donec = Chan[None]()
    stop = after_func(ctx, donec.close)
    assert stop()
    cancel()
    with pytest.raises(TimeoutError):
        donec.recv(timeout=0.05)  # fn must never run
    assert not stop()


def test_after_func_called_asynchronously() -> None:
    """Port of Go's TestAfterFuncCalledAsynchronously: cancel does not wait for fn."""
    ctx, cancel = with_cancel(background())
    donec = Chan[None]()
    stop = after_func(ctx, lambda: donec.send(None))  # blocks until received below
    try:
        cancel()  # returns although fn is blocked
        donec.recv(timeout=WAIT)
    finally:
        stop()


def test_after_func_on_custom_context() -> None:
    """after_func on a custom context that has its own done channel runs after it closes."""
    ccc = CustomCauseContext()
    donec = Chan[None]()
    after_func(ccc, donec.close)
    ccc.cancel()
    donec.recv(timeout=WAIT)


def test_after_funcs_are_independent() -> None:
    """Several after_func calls on one context: stopping one leaves the others."""
    ctx, cancel = with_cancel(background())
    results = Chan[int](3)
    stops = [after_func(ctx, lambda i=i: results.send(i)) for i in range(3)]  # type: ignore[misc]
    assert stops[1]()
    cancel()
    got = {results.recv(timeout=WAIT), results.recv(timeout=WAIT)}
    assert got == {0, 2}
    with pytest.raises(TimeoutError):
        results.recv(timeout=0.05)


# -- semantics the Go tests leave implicit --


def test_cancel_idempotent_first_cause_wins() -> None:
    """Cancel is idempotent: the first cancel (and its cause) stands, from any thread."""
    ctx, cancel = with_cancel_cause(background())
    causes = [ValueError(str(i)) for i in range(16)]
    run_threads([lambda c=c: cancel(c) for c in causes])  # type: ignore[misc]
    first = cause(ctx)
    assert first in causes
    err = ctx.err()
    cancel(RuntimeError("late"))
    assert cause(ctx) is first and ctx.err() is err


def test_child_never_cancels_parent() -> None:
    """Cancelling a child, however deep, leaves every ancestor untouched."""
    root, cancel_root = with_cancel(background())
    ctx: Context = root
    cancels = []
    for _ in range(5):
        ctx, cancel = with_timeout(ctx, VERY_LONG)
        cancels.append(cancel)
    for cancel in reversed(cancels):
        cancel()
    assert root.err() is None and not is_done(root)
    assert children(root) == set()
    cancel_root()


def test_child_deadline_never_later_than_parent() -> None:
    """with_deadline later than the parent's behaves as with_cancel (Go's WithDeadline)."""
    parent, cancel = with_timeout(background(), 60)
    try:
        parent_deadline = parent.deadline()
        assert parent_deadline is not None
        later, _ = with_deadline(parent, parent_deadline + 60)
        assert later.deadline() == parent_deadline
        assert type(later) is C._CancelCtx
        assert repr(later).endswith("s]).WithCancel")
        earlier, stop = with_deadline(parent, parent_deadline - 30)
        assert earlier.deadline() == parent_deadline - 30
        assert repr(earlier).count(".WithDeadline(") == 2
        stop()
        value_child = with_value(parent, "k", "v")
        assert value_child.deadline() == parent_deadline
        assert without_cancel(parent).deadline() is None
    finally:
        cancel()


def test_deadline_is_monotonic_time() -> None:
    """deadline() is the time.monotonic() value the timeout was computed from."""
    before = time.monotonic()
    ctx, cancel = with_timeout(background(), 30)
    after = time.monotonic()
    deadline = ctx.deadline()
    assert deadline is not None and before + 30 <= deadline <= after + 30
    cancel()
    assert ctx.deadline() == deadline


def test_repr_names_the_chain() -> None:
    """repr follows Go's String(): every layer, custom contexts by type name."""
    ctx, cancel = with_cancel(todo())
    ctx = with_value(ctx, "key", "val")
    ctx2, cancel2 = with_timeout(ctx, 90)
    r = repr(ctx2)
    assert r.startswith("context.TODO.WithCancel.WithValue(key, val).WithDeadline(")
    assert r.endswith("s])")
    rw = repr(without_cancel(ctx2))
    assert rw.startswith("context.TODO.WithCancel.WithValue(key, val).WithDeadline(")
    assert rw.endswith("s]).WithoutCancel")
    assert repr(without_cancel(background())) == "context.Background.WithoutCancel"
    assert repr(with_cancel(OtherContext(background()))[0]) == (
        "test_context.OtherContext.WithCancel"
    )
    cancel2()
    cancel()


def test_done_channel_is_receive_only() -> None:
    """A context's done channel cannot be sent on or closed by its users."""
    ctx, cancel = with_cancel(background())
    d = ctx.done()
    assert ctx.done() is d, "done() returns the same channel every time"
    with pytest.raises(TypeError, match="receive-only"):
        d.close()  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="receive-only"):
        d.send(None)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        select((d.send, None), default)  # type: ignore[attr-defined]
    cancel()
    assert d.recv_ok() == (None, False)
    # A context cancelled before anyone asked for its channel gets a closed one too.
    ctx2, cancel2 = with_cancel(background())
    cancel2()
    assert ctx2.done().recv_ok() == (None, False)


def test_select_on_done_with_other_channels() -> None:
    """ctx.done() in a select together with other channels, as Go's Stream example."""
    ctx, cancel = with_cancel(background())
    out = Chan[int]()
    received: list[int] = []

    def consumer() -> None:
        for _ in range(3):
            v = out.recv(timeout=WAIT)
            assert v is not None
            received.append(v)
        cancel()

    t = go(consumer)
    sent = 0
    reason = ""
    while True:
        index, _ = select(ctx.done().recv, (out.send, sent), timeout=WAIT)
        if index == 0:
            reason = repr(ctx.err())
            break
        sent += 1
    t.join(WAIT)
    assert received == [0, 1, 2] and sent == 3
    assert "context canceled" in reason

    # A blocked select is woken by the cancel, from another thread.
    ctx, cancel = with_timeout(background(), VERY_LONG)
    never = Chan[int]()
    go(cancel)
    index, _ = select(never.recv, ctx.done().recv, timeout=WAIT)
    assert index == 1
    assert isinstance(ctx.err(), Canceled)

    # And by a deadline.
    ctx, cancel = with_timeout(background(), SHORT)
    index, _ = select(never.recv, ctx.done().recv, timeout=WAIT)
    assert index == 1 and isinstance(ctx.err(), DeadlineExceeded)
    cancel()


# -- trees at scale, and what a cancelled context leaves behind --


def test_cancel_reaches_a_deep_chain() -> None:
    """Cancelling the root cancels a chain of 3,000 descendants (no recursion limit)."""
    root, cancel = with_cancel(background())
    chain: list[Context] = []
    ctx: Context = root
    for i in range(3000):
        if i % 3 == 0:
            ctx = with_value(ctx, i, i)
        elif i % 3 == 1:
            ctx, _ = with_cancel(ctx)
        else:
            ctx, _ = with_timeout(ctx, VERY_LONG)
        chain.append(ctx)
    assert ctx.value(0) == 0 and ctx.value(2997) == 2997
    assert repr(ctx).startswith("context.Background.WithCancel.WithValue(0, 0).WithCancel")
    cancel()
    for c in chain:
        assert is_done(c)
        assert c.err() is root.err()


def test_cancel_reaches_a_wide_tree() -> None:
    """Cancelling the root cancels 1,000 descendants spread over a wide tree."""
    root, cancel = with_cancel(background())
    nodes: list[Context] = []
    frontier: list[Context] = [root]
    while len(nodes) < 1000:
        parent = frontier.pop(0)
        for _ in range(10):
            child, _ = with_cancel(parent) if len(nodes) % 2 else with_timeout(parent, VERY_LONG)
            nodes.append(child)
            frontier.append(child)
    waiters = [go(n.done().recv) for n in nodes[::100]]
    cancel()
    for n in nodes:
        assert is_done(n)
        assert isinstance(n.err(), Canceled)
    for t in waiters:
        t.join(WAIT)
        assert not t.is_alive()


def test_long_lived_parent_keeps_no_cancelled_children() -> None:
    """A parent with 10,000 children cancelled one by one holds none of them afterwards."""
    parent, cancel_parent = with_cancel(background())
    refs = []
    for i in range(10_000):
        child, cancel = with_timeout(parent, VERY_LONG) if i % 2 else with_cancel(parent)
        refs.append(weakref.ref(child))
        cancel()
        del child, cancel
    assert parent._children is None  # type: ignore[attr-defined]
    gc.collect()
    assert sum(r() is not None for r in refs) == 0
    assert parent.err() is None
    cancel_parent()


def pending_timers() -> int:
    count = getattr(timers, "pending_count", None)
    if count is None:
        pytest.skip("gopool.timers has no pending_count()")
    result: int = count()
    return result


@pytest.mark.thread_unsafe(reason="counts the process's pending timers")
def test_cancelled_context_keeps_no_timer() -> None:
    """Cancelling a deadline context cancels its timer entry; dropping it frees it.

    Counts are compared across the cancels only: other timers of the
    process can only fire (lower the count) meanwhile, never add 100.
    """
    ctxs = [with_timeout(background(), VERY_LONG) for _ in range(100)]
    handles = [c._timer for c, _ in ctxs]  # type: ignore[attr-defined]
    assert all(h is not None for h in handles)
    refs = [weakref.ref(c) for c, _ in ctxs]
    pending = pending_timers()
    for c, cancel in ctxs:
        cancel()
        assert c._timer is None  # type: ignore[attr-defined]
    assert pending_timers() <= pending - 90
    assert not any(h.cancel() for h in handles), "a timer entry survived its context's cancel"
    del ctxs, c, cancel
    gc.collect()
    assert all(r() is None for r in refs)


def test_expired_context_keeps_no_timer() -> None:
    """A context whose deadline passed holds no timer and, once dropped, is freed."""
    ctx, cancel = with_timeout(background(), SHORT)
    wait_done(ctx)
    # Under the context's lock: the cancel that closed done() may still be
    # finishing on the timer thread (it drops the timer in the same hold).
    with ctx._lock:  # type: ignore[attr-defined]
        assert ctx._timer is None  # type: ignore[attr-defined]
    ref = weakref.ref(ctx)
    del ctx, cancel

    def freed() -> bool:
        gc.collect()  # the timer thread lets go of its callback after the batch
        return ref() is None

    until(freed, "the expired context to be freed")


@pytest.mark.thread_unsafe(reason="counts the process's threads")
def test_cancelled_context_keeps_no_thread() -> None:
    """A watcher goroutine for a custom parent ends when its child is cancelled."""
    parent = MyDoneCtx(background())
    before = set(watcher_threads())
    child, cancel = with_cancel(parent)
    started = [t for t in watcher_threads() if t not in before]
    assert len(started) == 1
    ref = weakref.ref(child)
    cancel()
    started[0].join(WAIT)
    assert not started[0].is_alive()
    del child, cancel
    gc.collect()
    assert ref() is None


def test_stopped_after_func_is_released() -> None:
    """A stopped after_func drops its callback; the parent keeps nothing of it."""

    class Payload:
        pass

    ctx, cancel = with_cancel(background())
    payload = Payload()
    ref = weakref.ref(payload)
    stop = after_func(ctx, lambda p=payload: None)  # type: ignore[misc]
    del payload
    assert ref() is not None
    assert stop()
    gc.collect()
    assert ref() is None
    assert children(ctx) == set()
    cancel()


def test_cancel_completes_despite_an_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception part-way through a cancel (Ctrl-C) still leaves the whole subtree cancelled.

    The failing step here is the start of an after_func goroutine, which
    raises KeyboardInterrupt once; the cancel finishes, then raises it.
    """
    real_go = C.go
    calls = 0

    def flaky_go(fn: Callable[..., object], /, *args: Any) -> threading.Thread:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt
        return real_go(fn, *args)

    monkeypatch.setattr(C, "go", flaky_go)
    root, cancel = with_cancel(background())
    nodes = [with_cancel(root)[0] for _ in range(50)]
    nodes += [with_timeout(n, VERY_LONG)[0] for n in nodes]
    ran = Chan[int](10)
    for i in range(10):
        after_func(nodes[i], lambda i=i: ran.send(i))  # type: ignore[misc]
    with pytest.raises(KeyboardInterrupt):
        cancel()
    for n in [root, *nodes]:
        assert is_done(n)
        assert n.err() is root.err()
        if isinstance(n, C._TimerCtx):
            assert n._timer is None
    # Nine of the ten callbacks ran; the one whose start was interrupted is lost.
    got = {ran.recv(timeout=WAIT) for _ in range(9)}
    assert len(got) == 9
    assert children(root) == set()
    cancel()  # idempotent, and raises nothing now


def test_no_timer_for_a_cancelled_parent_or_an_infinite_deadline() -> None:
    """A deadline context under a cancelled parent, or with an infinite deadline, has no timer."""
    parent, cancel = with_cancel(background())
    cancel()
    child, stop = with_timeout(parent, VERY_LONG)
    assert isinstance(child.err(), Canceled)
    assert child._timer is None  # type: ignore[attr-defined]
    forever, stop2 = with_timeout(background(), float("inf"))
    assert forever.deadline() == float("inf") and forever._timer is None  # type: ignore[attr-defined]
    assert not is_done(forever)
    stop2()
    assert isinstance(forever.err(), Canceled)
    stop()
