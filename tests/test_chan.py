"""Tests for ``Chan``, ``nilchan`` and ``go()`` in ``gopool.chan``: every rule of the spec's
"Channels" and "Goroutines" sections, corners included.

``select`` has its own file (test_select.py); ports of Go's tests are in
test_chan_go_ports.py, many-thread runs in test_chan_stress.py and Ctrl-C in
test_interrupt.py.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from conftest import idle, join_all, spawn, until, wait_blocked

import gopool._panic
from gopool import Chan, ClosedChannelError, RecvChan, SendChan, go, nilchan, select

pytestmark = [pytest.mark.timeout(60), pytest.mark.parallel_safe]


# -- construction, len, cap, bool, repr --


def test_default_is_unbuffered() -> None:
    ch: Chan[int] = Chan()
    assert ch.cap == 0
    assert len(ch) == 0


@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_len_and_cap(size: int) -> None:
    ch: Chan[int] = Chan(size)
    assert (len(ch), ch.cap) == (0, size)
    for i in range(size):
        ch.send(i)
        assert len(ch) == i + 1
    assert (len(ch), ch.cap) == (size, size)
    if size:
        ch.recv()
        assert len(ch) == size - 1
    ch.close()
    assert ch.cap == size


@pytest.mark.parametrize("size", [0, 3])
def test_empty_channel_is_truthy(size: int) -> None:
    ch: Chan[int] = Chan(size)
    assert bool(ch) is True
    ch.close()
    assert bool(ch) is True
    assert bool(nilchan) is True


def numbers_in(text: str) -> set[int]:
    """The decimal numbers standing alone in ``text`` (an ``0x...`` address is not one)."""
    return {int(n) for n in re.findall(r"(?<!\w)\d+(?!\w)", text)}


def test_repr_shows_capacity_length_and_closed() -> None:
    ch: Chan[str] = Chan(5)
    ch.send("a")
    ch.send("b")
    text = repr(ch)
    assert {5, 2} <= numbers_in(text)
    assert "closed" not in text
    ch.close()
    text = repr(ch)
    assert "closed" in text
    assert {5, 2} <= numbers_in(text)


def test_repr_follows_length() -> None:
    ch: Chan[int] = Chan(9)
    assert {9, 0} <= numbers_in(repr(ch))
    for i in range(4):
        ch.send(i)
    assert {9, 4} <= numbers_in(repr(ch))
    assert 0 in numbers_in(repr(Chan[int]()))


def test_negative_size_is_value_error() -> None:
    with pytest.raises(ValueError):
        Chan(-1)


@pytest.mark.parametrize("size", [1.0, 2.5, "3", None, [1]])
def test_non_int_size_is_type_error(size: Any) -> None:
    with pytest.raises(TypeError):
        Chan(size)


def test_generic_alias_constructs_a_channel() -> None:
    ch = Chan[int](2)
    ch.send(1)
    assert ch.recv() == 1


def test_chan_satisfies_the_direction_protocols() -> None:
    ch: Chan[int] = Chan(1)
    assert isinstance(ch, RecvChan)
    assert isinstance(ch, SendChan)
    out: SendChan[int] = ch
    inp: RecvChan[int] = ch
    out.send(4)
    assert inp.recv() == 4


# -- buffered channels --


def test_buffered_fifo() -> None:
    ch: Chan[int] = Chan(100)
    for i in range(100):
        ch.send(i)
    assert [ch.recv() for _ in range(100)] == list(range(100))


def test_buffered_send_blocks_only_when_full() -> None:
    ch: Chan[int] = Chan(3)
    for i in range(3):
        ch.send(i, timeout=0)
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=0)
    with pytest.raises(TimeoutError):
        ch.send(99, timeout=0.02)
    assert len(ch) == 3
    assert [ch.recv(), ch.recv(), ch.recv()] == [0, 1, 2]
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)


def test_blocked_buffered_sender_proceeds_when_room_appears() -> None:
    ch: Chan[int] = Chan(1)
    ch.send(1)
    sender = spawn(ch.send, 2)
    wait_blocked(ch, senders=1)
    assert not sender.done
    assert ch.recv() == 1
    sender.join()
    assert len(ch) == 1
    assert ch.recv() == 2


def test_blocked_senders_keep_order_behind_full_buffer() -> None:
    """Values of senders parked on a full buffer follow the buffer, in the order they parked."""
    ch: Chan[int] = Chan(2)
    ch.send(0)
    ch.send(1)
    senders = []
    for v in (2, 3, 4):
        senders.append(spawn(ch.send, v))
        wait_blocked(ch, senders=len(senders))
    assert [ch.recv() for _ in range(5)] == [0, 1, 2, 3, 4]
    join_all(senders)
    assert len(ch) == 0


# -- unbuffered channels --


def test_unbuffered_send_waits_for_the_receiver() -> None:
    ch: Chan[str] = Chan()
    sent = threading.Event()

    def sender() -> None:
        ch.send("x")
        sent.set()

    t = spawn(sender)
    wait_blocked(ch, senders=1)
    time.sleep(0.05)
    assert not sent.is_set(), "unbuffered send returned before any receive"
    assert len(ch) == 0
    assert ch.recv() == "x"
    t.join()
    assert sent.is_set()


def test_unbuffered_recv_waits_for_the_sender() -> None:
    ch: Chan[str] = Chan()
    r = spawn(ch.recv)
    wait_blocked(ch, receivers=1)
    time.sleep(0.05)
    assert not r.done
    ch.send("y")
    assert r.join() == "y"


def test_unbuffered_send_needs_a_receiver_even_non_blocking() -> None:
    ch: Chan[int] = Chan()
    with pytest.raises(TimeoutError):
        ch.send(1, timeout=0)
    r = spawn(ch.recv)
    wait_blocked(ch, receivers=1)
    ch.send(1, timeout=0)
    assert r.join() == 1


def test_unbuffered_blocked_senders_served_in_order() -> None:
    """Parked senders form a FIFO queue: the first to park is the first received."""
    ch: Chan[int] = Chan()
    senders = []
    for v in range(5):
        senders.append(spawn(ch.send, v))
        wait_blocked(ch, senders=v + 1)
    assert [ch.recv() for _ in range(5)] == list(range(5))
    join_all(senders)


def test_unbuffered_blocked_receivers_served_in_order() -> None:
    ch: Chan[int] = Chan()
    receivers = []
    for i in range(5):
        receivers.append(spawn(ch.recv))
        wait_blocked(ch, receivers=i + 1)
    for v in range(5):
        ch.send(v)
    assert join_all(receivers) == list(range(5))


@pytest.mark.parametrize("size", [0, 1, 10])
def test_fifo_with_concurrent_sender(size: int) -> None:
    ch: Chan[int] = Chan(size)
    t = spawn(lambda: [ch.send(i) for i in range(500)])
    assert [ch.recv() for _ in range(500)] == list(range(500))
    t.join()


# -- recv_ok and close --


@pytest.mark.parametrize("size", [0, 4])
def test_recv_ok_reports_true_for_values(size: int) -> None:
    ch: Chan[int | None] = Chan(size)
    t = spawn(ch.send, None)
    assert ch.recv_ok() == (None, True)  # a sent None is still a value
    t.join()
    t = spawn(ch.send, 0)
    assert ch.recv_ok() == (0, True)
    t.join()


@pytest.mark.parametrize("size", [0, 4])
def test_recv_on_closed_drained_channel_returns_at_once(size: int) -> None:
    ch: Chan[int] = Chan(size)
    ch.close()
    for _ in range(3):
        assert ch.recv() is None
        assert ch.recv_ok() == (None, False)
        assert ch.recv(timeout=0) is None
        assert ch.recv_ok(timeout=0) == (None, False)


def test_buffered_values_delivered_after_close() -> None:
    ch: Chan[int] = Chan(3)
    for v in (1, 2, 3):
        ch.send(v)
    ch.close()
    assert len(ch) == 3
    assert ch.recv() == 1
    assert ch.recv_ok() == (2, True)
    assert ch.recv(timeout=0) == 3
    assert ch.recv_ok() == (None, False)
    assert ch.recv() is None


@pytest.mark.parametrize("size", [0, 2])
def test_close_wakes_every_blocked_receiver(size: int) -> None:
    ch: Chan[int] = Chan(size)
    receivers = [spawn(ch.recv_ok) for _ in range(6)] + [spawn(ch.recv) for _ in range(4)]
    wait_blocked(ch, receivers=10)
    ch.close()
    assert join_all(receivers) == [(None, False)] * 6 + [None] * 4
    assert idle(ch)


def test_close_fails_every_blocked_unbuffered_sender() -> None:
    ch: Chan[int] = Chan()

    def send(v: int) -> str:
        try:
            ch.send(v)
        except ClosedChannelError as e:
            return str(e)
        return "sent"

    senders = [spawn(send, v) for v in range(5)]
    wait_blocked(ch, senders=5)
    ch.close()
    assert join_all(senders) == ["send on closed channel"] * 5
    assert ch.recv_ok() == (None, False)
    assert idle(ch)


def test_close_fails_blocked_senders_but_keeps_buffered_values() -> None:
    ch: Chan[int] = Chan(2)
    ch.send(1)
    ch.send(2)

    def send(v: int) -> bool:
        try:
            ch.send(v)
        except ClosedChannelError:
            return False
        return True

    senders = [spawn(send, v) for v in (3, 4, 5)]
    wait_blocked(ch, senders=3)
    ch.close()
    assert join_all(senders) == [False, False, False]
    assert list(ch) == [1, 2]
    assert ch.recv_ok() == (None, False)


def test_send_on_closed_channel() -> None:
    for size in (0, 1):
        ch: Chan[int] = Chan(size)
        ch.close()
        with pytest.raises(ClosedChannelError, match="send on closed channel"):
            ch.send(1)
        with pytest.raises(ClosedChannelError):
            ch.send(1, timeout=0)
        assert len(ch) == 0
        assert ch.recv_ok() == (None, False)


def test_send_on_closed_full_channel_raises_rather_than_blocks() -> None:
    ch: Chan[int] = Chan(1)
    ch.send(1)
    ch.close()
    with pytest.raises(ClosedChannelError):
        ch.send(2)
    assert list(ch) == [1]


def test_close_twice() -> None:
    ch: Chan[int] = Chan()
    ch.close()
    with pytest.raises(ClosedChannelError, match="close of closed channel"):
        ch.close()


def test_close_nilchan() -> None:
    with pytest.raises(ClosedChannelError, match="close of nil channel"):
        nilchan.close()


def test_closed_channel_error_is_runtime_error() -> None:
    assert issubclass(ClosedChannelError, RuntimeError)


def test_closed_property_and_statistics() -> None:
    ch: Chan[int] = Chan(2)
    ch.send(7)
    assert ch.closed is False
    assert ch.statistics() == {
        "cap": 2,
        "len": 1,
        "senders_waiting": 0,
        "receivers_waiting": 0,
        "closed": False,
    }
    ch.close()
    assert ch.closed is True
    assert ch.statistics()["closed"] is True


# -- timeout= --


@pytest.mark.parametrize("timeout", [0, 0.0, 0.03, timedelta(milliseconds=30)])
def test_recv_timeout_takes_nothing(timeout: float | timedelta) -> None:
    ch: Chan[int] = Chan(1)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=timeout)
    with pytest.raises(TimeoutError):
        ch.recv_ok(timeout=timeout)
    assert idle(ch)
    ch.send(5)
    assert ch.recv(timeout=timeout) == 5


@pytest.mark.parametrize("timeout", [0, 0.03, timedelta(milliseconds=30)])
def test_send_timeout_sends_nothing(timeout: float | timedelta) -> None:
    ch: Chan[int] = Chan(1)
    ch.send(1)
    with pytest.raises(TimeoutError):
        ch.send(2, timeout=timeout)
    assert idle(ch)
    assert list_now(ch) == [1]
    unbuffered: Chan[int] = Chan()
    with pytest.raises(TimeoutError):
        unbuffered.send(3, timeout=timeout)
    assert idle(unbuffered)
    with pytest.raises(TimeoutError):
        unbuffered.recv(timeout=0)


def list_now(ch: Chan[Any]) -> list[Any]:
    """Everything ``ch`` holds right now, without blocking."""
    out = []
    while True:
        try:
            out.append(ch.recv(timeout=0))
        except TimeoutError:
            return out


def test_timeout_waits_at_least_about_that_long() -> None:
    ch: Chan[int] = Chan()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0.1)
    assert time.monotonic() - start >= 0.09


def test_timeout_is_not_taken_when_partner_comes_in_time() -> None:
    ch: Chan[int] = Chan()
    r = spawn(lambda: ch.recv(timeout=30))
    wait_blocked(ch, receivers=1)
    ch.send(8)
    assert r.join() == 8


def test_bad_timeout_kind_is_type_error() -> None:
    ch: Chan[int] = Chan()
    with pytest.raises(TypeError):
        ch.recv(timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ch.send(1, timeout="1")  # type: ignore[arg-type]
    assert idle(ch)


# -- iteration --


def test_iteration_until_closed_and_drained() -> None:
    ch: Chan[int] = Chan(2)

    def produce() -> None:
        for i in range(50):
            ch.send(i)
        ch.close()

    t = spawn(produce)
    assert list(ch) == list(range(50))
    t.join()
    assert list(ch) == []


def test_iteration_of_closed_channel_yields_buffered_values() -> None:
    ch: Chan[str] = Chan(3)
    ch.send("a")
    ch.send("b")
    ch.close()
    assert [v for v in ch] == ["a", "b"]


def test_iteration_keeps_none_values() -> None:
    ch: Chan[int | None] = Chan(3)
    ch.send(None)
    ch.send(1)
    ch.close()
    assert list(ch) == [None, 1]


def test_iteration_blocks_while_open() -> None:
    ch: Chan[int] = Chan()
    got: list[int] = []
    t = spawn(lambda: got.extend(ch))
    ch.send(1)
    wait_blocked(ch, receivers=1)
    assert not t.done
    ch.close()
    t.join()
    assert got == [1]


# -- nilchan --


def test_nilchan_blocks_forever() -> None:
    for op in (
        lambda: nilchan.recv(timeout=0.03),
        lambda: nilchan.recv_ok(timeout=0.03),
        lambda: nilchan.send(1, timeout=0.03),
        lambda: nilchan.recv(timeout=0),
    ):
        with pytest.raises(TimeoutError):
            op()


def test_nilchan_blocks_in_a_thread_until_its_timeout() -> None:
    t = spawn(lambda: nilchan.recv(timeout=0.3))
    time.sleep(0.05)
    assert not t.done
    with pytest.raises(TimeoutError):
        t.join()
    assert (len(nilchan), nilchan.cap) == (0, 0)


# -- thread safety and blocking cost --


@pytest.mark.thread_unsafe(reason="measures the process's CPU time")
def test_blocked_threads_consume_no_cpu() -> None:
    """20 threads parked in recv for a second cost (nearly) no CPU time."""
    ch: Chan[int] = Chan()
    receivers = [spawn(ch.recv) for _ in range(20)]
    wait_blocked(ch, receivers=20)
    cpu = time.process_time()
    time.sleep(1.0)
    used = time.process_time() - cpu
    ch.close()
    join_all(receivers)
    assert used < 0.2, f"parked threads used {used:.3f} s of CPU in 1 s"


@pytest.mark.thread_unsafe(reason="measures the process's CPU time")
def test_blocked_select_and_timed_waits_consume_no_cpu() -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(1)
    waiters = [spawn(select, a.recv, b.recv) for _ in range(5)]
    waiters += [spawn(lambda: a.recv(timeout=30)) for _ in range(5)]
    until(lambda: a.statistics()["receivers_waiting"] >= 10, "10 receivers on a")
    cpu = time.process_time()
    time.sleep(1.0)
    used = time.process_time() - cpu
    a.close()
    join_all(waiters)
    assert used < 0.2, f"parked threads used {used:.3f} s of CPU in 1 s"


@pytest.mark.parametrize("size", [0, 1, 16])
def test_many_senders_and_receivers_exactly_once(size: int) -> None:
    ch: Chan[tuple[int, int]] = Chan(size)
    senders = [spawn(lambda s=s: [ch.send((s, i)) for i in range(300)]) for s in range(4)]
    receivers = [spawn(lambda: [ch.recv() for _ in range(300)]) for _ in range(4)]
    join_all(senders)
    got = [v for r in join_all(receivers) for v in r]
    assert sorted(got) == sorted((s, i) for s in range(4) for i in range(300))
    assert idle(ch)


# -- go() --


def test_go_returns_a_started_daemon_thread() -> None:
    release: Chan[None] = Chan()
    t = go(release.recv)
    assert isinstance(t, threading.Thread)
    assert t.daemon
    assert t.is_alive()
    assert t.ident is not None
    release.send(None)
    t.join(10)
    assert not t.is_alive()


def test_go_passes_arguments() -> None:
    out: Chan[tuple[Any, ...]] = Chan(1)

    def f(a: int, b: int, *, c: int) -> None:
        out.send((a, b, c))

    go(f, 1, 2, c=3).join(10)
    assert out.recv(timeout=0) == (1, 2, 3)


def test_go_runs_concurrently() -> None:
    ch: Chan[int] = Chan()
    go(ch.send, 42)  # would deadlock if go() ran fn in the caller
    assert ch.recv(timeout=10) == 42


@pytest.mark.parametrize("fn", [None, 1, "f", Chan()])
def test_go_rejects_non_callables(fn: Any) -> None:
    with pytest.raises(TypeError, match="not callable"):
        go(fn)


def test_go_exception_reaches_threading_excepthook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reported in every panic mode; "report" keeps the test's main thread out of it."""
    monkeypatch.setattr(gopool._panic, "_mode", "report")
    seen: list[tuple[Any, BaseException | None, threading.Thread | None]] = []
    monkeypatch.setattr(
        threading,
        "excepthook",
        lambda args: seen.append((args.exc_type, args.exc_value, args.thread)),
    )

    def boom() -> None:
        raise ValueError("escaped")

    t = go(boom)
    t.join(10)
    assert len(seen) == 1
    exc_type, exc, thread = seen[0]
    assert exc_type is ValueError
    assert str(exc) == "escaped"
    assert thread is t
