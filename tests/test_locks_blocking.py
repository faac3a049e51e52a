"""How a thread blocked in ``Mutex.lock``, ``RWMutex.rlock``/``lock`` or ``Cond.wait`` behaves.

* It costs no CPU: it is not switched in while it waits (Linux, by
  ``/proc``).
* Ctrl-C reaches a main thread blocked there and the call withdraws,
  leaving the lock as it was (child interpreters, sent a real SIGINT); an
  interrupted ``Cond.wait`` has ``l`` locked again and is not queued.
* Under stress, signals that raise in the main thread whenever it is
  parked (blocked, or just woken: where an interrupt races a hand-off)
  never leave a lock held by nobody or a count wrong.
* ``gopool.dump()`` and the deadlock report name the call as Go does:
  ``sync.Mutex.Lock``, ``sync.RWMutex.RLock``, ``sync.RWMutex.Lock``,
  ``sync.Cond.Wait``.
"""

from __future__ import annotations

import dis
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import pytest
from conftest import CHILD_HELPERS, STRESS, join_all, sigint_child, spawn, stress_test, until
from test_mutex import barge

import gopool
from gopool import Cond, Mutex, RWMutex, _waiter, debug, go

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals"),
]

SRC = str(Path(gopool.__file__).resolve().parents[1])
CALLS = ["Mutex.lock", "RWMutex.rlock", "RWMutex.lock", "Cond.wait"]
GO_NAMES = {
    "Mutex.lock": "sync.Mutex.Lock",
    "RWMutex.rlock": "sync.RWMutex.RLock",
    "RWMutex.lock": "sync.RWMutex.Lock",
    "Cond.wait": "sync.Cond.Wait",
}


class Blocking:
    """One blocking call, set up to block: ``hold()`` first, then ``call()`` blocks
    until ``release()``; ``blocked()`` tells when a thread is queued in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.target: Mutex | RWMutex | Cond
        if name == "Mutex.lock":
            mu = Mutex()
            self.target = mu
            self.hold, self.release = mu.lock, mu.unlock
            self.blocked = lambda: mu.statistics()["waiters"] == 1
            self.call: Callable[[], None] = lambda: (mu.lock(), mu.unlock()) and None
        elif name == "RWMutex.rlock":
            rw = RWMutex()
            self.target = rw
            self.hold, self.release = rw.lock, rw.unlock
            self.blocked = lambda: rw.statistics()["readers_waiting"] == 1
            self.call = lambda: (rw.rlock(), rw.runlock()) and None
        elif name == "RWMutex.lock":
            rw = RWMutex()
            self.target = rw
            self.hold, self.release = rw.rlock, rw.runlock
            self.blocked = lambda: rw.statistics()["writers_waiting"] == 1
            self.call = lambda: (rw.lock(), rw.unlock()) and None
        else:
            m = Mutex()
            c = Cond(m)
            self.target = c
            self.hold = lambda: None
            self.release = c.signal
            self.blocked = lambda: c.statistics()["waiters"] == 1
            self.call = lambda: (m.lock(), c.wait(), m.unlock()) and None


# ---------------------------------------------------------------------------
# No CPU while blocked


def context_switches(tid: int) -> int:
    """Voluntary plus involuntary context switches of thread ``tid`` so far."""
    status = Path(f"/proc/self/task/{tid}/status").read_text()
    return sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("name", CALLS)
def test_blocked_thread_is_not_switched_in(name: str) -> None:
    b = Blocking(name)
    native: list[int] = []

    def run() -> None:
        native.append(threading.get_native_id())
        b.call()

    b.hold()
    t = spawn(run)
    until(b.blocked, f"{name} to block")
    # Let the park settle first: on a free-threaded build a contended lock
    # yields its CPU up to 40 times (sched_yield) before it sleeps in the
    # kernel, a one-off at the start of a wait, counted as context switches.
    time.sleep(0.2)
    before = context_switches(native[0])
    time.sleep(0.5)
    after = context_switches(native[0])
    b.release()
    t.join()
    assert after - before <= 2, f"the thread blocked in {name} ran {after - before} times in 0.5 s"


# ---------------------------------------------------------------------------
# Ctrl-C reaches a blocked main thread; the lock is left as it was

PRELUDE = (
    CHILD_HELPERS
    + """
from gopool import Cond, Mutex, RWMutex

def after(predicate, what):
    end = time.monotonic() + 10
    while not predicate():
        check(time.monotonic() < end, what)
        time.sleep(0.001)

def thread(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t
"""
)


def run_child(body: str) -> None:
    out = sigint_child(PRELUDE + body)
    assert out.split() == ["interrupted", "intact"], out


def test_ctrl_c_in_mutex_lock() -> None:
    """The main thread withdraws from the queue; the waiter behind it is served next."""
    run_child("""
mu = Mutex()
mu.lock()
got = []
def behind():
    after(lambda: mu.statistics()["waiters"] == 1, "main queued")
    mu.lock()
    got.append(True)
    mu.unlock()
t = thread(behind)
ready_when(lambda: mu.statistics()["waiters"] == 2)
interrupted(mu.lock)
s = mu.statistics()
check(s == {"locked": True, "starving": False, "waiters": 1}, f"state after: {s}")
mu.unlock()
t.join(10)
check(got == [True], "the waiter behind was served")
check(mu.statistics() == {"locked": False, "starving": False, "waiters": 0}, "idle at the end")
check(mu.try_lock(), "the mutex still works")
print("intact")
""")


def test_ctrl_c_in_rwmutex_rlock() -> None:
    run_child("""
rw = RWMutex()
rw.lock()
ready_when(lambda: rw.statistics()["readers_waiting"] == 1)
interrupted(rw.rlock)
s = rw.statistics()
check(s == {"readers": 0, "writer": True, "readers_waiting": 0, "writers_waiting": 0}, f"{s}")
rw.unlock()
check(rw.try_lock(), "the lock still works")
rw.unlock()
print("intact")
""")


def test_ctrl_c_in_rwmutex_lock_behind_a_writer() -> None:
    run_child("""
rw = RWMutex()
rw.lock()
ready_when(lambda: rw.statistics()["writers_waiting"] == 1)
interrupted(rw.lock)
s = rw.statistics()
check(s == {"readers": 0, "writer": True, "readers_waiting": 0, "writers_waiting": 0}, f"{s}")
rw.unlock()
check(rw.try_rlock(), "the lock still works")
rw.runlock()
print("intact")
""")


def test_ctrl_c_in_rwmutex_lock_waiting_for_readers() -> None:
    """A writer withdrawn while readers still read lets in the readers it held back."""
    run_child("""
rw = RWMutex()
rw.rlock()
got = []
def reader():
    after(lambda: rw.statistics()["writers_waiting"] == 1, "main waiting for the reader")
    rw.rlock()
    got.append(rw.statistics()["readers"])
    rw.runlock()
t = thread(reader)
ready_when(lambda: rw.statistics()["readers_waiting"] == 1)
interrupted(rw.lock)
t.join(10)
check(got == [2], f"the reader held back by the writer got in beside the first: {got}")
s = rw.statistics()
check(s == {"readers": 1, "writer": False, "readers_waiting": 0, "writers_waiting": 0}, f"{s}")
rw.runlock()
check(rw.try_lock(), "the lock still works")
rw.unlock()
print("intact")
""")


def test_ctrl_c_in_cond_wait_relocks_l() -> None:
    """l is locked again when KeyboardInterrupt propagates, even if another thread held it."""
    run_child("""
m = Mutex()
c = Cond(m)
log = []
def holder():
    after(lambda: c.statistics()["waiters"] == 1, "main waiting")
    m.lock()
    print("ready", flush=True)
    time.sleep(0.5)
    log.append("released")
    m.unlock()
t = thread(holder)
m.lock()
try:
    c.wait()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    check(log == ["released"], "the interrupt propagated before l was locked again")
    check(m.statistics()["locked"], "l is not locked")
    check(c.statistics() == {"waiters": 0}, "still queued")
else:
    check(False, "wait returned")
m.unlock()
t.join(10)
c.signal()
check(m.try_lock(), "l still works")
print("intact")
""")


# ---------------------------------------------------------------------------
# Interrupts racing hand-offs, under stress


class Poke(Exception):
    """Raised by the SIGUSR1 handler in the main thread while it is parked."""


_PARK = _waiter.ThreadWaiter.park.__code__


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Only where Ctrl-C meets a blocked thread: in park(), blocked or just
    # woken (the handler runs as soon as the lock acquire returns). Raising
    # anywhere else could land in the middle of a hand-off, which no
    # Python-level code can guard against.
    if frame is not None and frame.f_code is _PARK:
        raise Poke


def poked(main_loop: Callable[[], None], *others: Callable[[threading.Event], int]) -> int:
    """Run ``main_loop`` in the main thread while ``others`` run in threads, SIGUSR1 hitting
    the main thread every 0.2 ms; returns the sum of what the others return."""
    stop = threading.Event()

    def poker() -> None:
        main = threading.main_thread().ident
        assert main is not None
        while not stop.is_set():
            signal.pthread_kill(main, signal.SIGUSR1)
            time.sleep(0.0002)

    old = signal.signal(signal.SIGUSR1, _on_signal)
    tasks = [spawn(fn, stop) for fn in others]
    poke = spawn(poker)
    try:
        main_loop()
    finally:
        stop.set()
        poke.join()
        signal.signal(signal.SIGUSR1, old)
    return sum(join_all(tasks, deadline=STRESS.seconds(60)))


def go_on(tally: dict[str, int], key: str, n: int, give_up: float) -> bool:
    """Whether a poked loop goes on: until ``n`` calls completed (``tally[key]``) and ten
    were interrupted, or until ``give_up``.

    Bounded in time both ways: on a loaded machine the signals may miss the
    parks for a while, and on an idle one nearly every park is interrupted
    (a poke every 0.2 ms), so the main thread's calls complete only when
    they wait less than that. The caller asserts that both happened.
    """
    if time.monotonic() >= give_up:
        return False
    return tally[key] < n or tally["interrupted"] < 10


@stress_test(120)
def test_stress_interrupted_mutex_lock() -> None:
    """A lock() that raises does not hold the mutex; one that returns does (exact count)."""
    mu = Mutex()
    box = [0]
    tally = {"mine": 0, "interrupted": 0}

    def hammer(stop: threading.Event) -> int:
        done = 0
        while not stop.is_set():
            mu.lock()
            v = box[0]
            time.sleep(0)
            box[0] = v + 1
            mu.unlock()
            done += 1
        return done

    def main_loop() -> None:
        give_up = time.monotonic() + STRESS.seconds(30)
        while go_on(tally, "mine", STRESS.iterations(3000), give_up):
            try:
                mu.lock()
            except Poke:
                tally["interrupted"] += 1
                continue
            box[0] += 1
            tally["mine"] += 1
            mu.unlock()

    theirs = poked(main_loop, *[hammer] * 4)
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}
    assert box[0] == tally["mine"] + theirs
    assert tally["interrupted"] > 0, "no lock() was interrupted"
    assert tally["mine"] > 0, "no lock() of the main thread completed"


@stress_test(120)
def test_stress_interrupted_rwmutex() -> None:
    """The main thread alternates rlock and lock under pokes, beside 2 readers and 2 writers."""
    rw = RWMutex()
    box = [0]
    active = {"readers": 0, "writers": 0}
    guard = threading.Lock()
    tally = {"writes": 0, "interrupted": 0}

    def enter(kind: str) -> None:
        with guard:
            active[kind] += 1
            assert active["writers"] <= 1 and not (active["writers"] and active["readers"]), active

    def leave(kind: str) -> None:
        with guard:
            active[kind] -= 1

    def read(stop: threading.Event) -> int:
        while not stop.is_set():
            rw.rlock()
            enter("readers")
            time.sleep(0)
            leave("readers")
            rw.runlock()
        return 0

    def write(stop: threading.Event) -> int:
        done = 0
        while not stop.is_set():
            rw.lock()
            enter("writers")
            v = box[0]
            time.sleep(0)
            box[0] = v + 1
            leave("writers")
            rw.unlock()
            done += 1
        return done

    def main_loop() -> None:
        i = 0
        give_up = time.monotonic() + STRESS.seconds(30)
        while go_on(tally, "writes", STRESS.iterations(1500), give_up):
            i += 1
            writing = i % 2 == 0
            try:
                rw.lock() if writing else rw.rlock()
            except Poke:
                tally["interrupted"] += 1
                continue
            if writing:
                enter("writers")
                box[0] += 1
                tally["writes"] += 1
                leave("writers")
                rw.unlock()
            else:
                enter("readers")
                leave("readers")
                rw.runlock()

    theirs = poked(main_loop, read, read, write, write)
    assert rw.statistics() == {
        "readers": 0,
        "writer": False,
        "readers_waiting": 0,
        "writers_waiting": 0,
    }
    assert box[0] == tally["writes"] + theirs
    assert tally["interrupted"] > 0, "no call was interrupted"
    assert tally["writes"] > 0, "no lock() of the main thread completed"


@stress_test(120)
def test_stress_interrupted_cond_wait() -> None:
    """The main thread consumes from a bounded buffer fed by 3 producers, its waits poked:
    every interrupted wait has l locked again, and every item arrives exactly once."""
    m = Mutex()
    not_empty = Cond(m)
    not_full = Cond(m)
    buf: list[int] = []
    per = STRESS.iterations(2000)
    producers = 3
    received: list[int] = []
    interrupted = [0]

    def produce(p: int) -> Callable[[threading.Event], int]:
        def run(stop: threading.Event) -> int:
            for seq in range(per):
                m.lock()
                while len(buf) >= 2:
                    not_full.wait()
                buf.append(p * per + seq)
                not_empty.signal()
                m.unlock()
            return 0

        return run

    def main_loop() -> None:
        m.lock()
        try:
            while len(received) < producers * per:
                try:
                    while not buf:
                        not_empty.wait()
                except Poke:
                    assert m.statistics()["locked"], "an interrupted wait left l unlocked"
                    interrupted[0] += 1
                    continue
                received.append(buf.pop(0))
                # A poked waiter may have consumed a signal meant for a
                # producer: wake them all, as a robust program would.
                not_full.broadcast()
        finally:
            m.unlock()

    poked(main_loop, *[produce(p) for p in range(producers)])
    assert sorted(received) == list(range(producers * per))
    assert not_empty.statistics() == not_full.statistics() == {"waiters": 0}
    assert m.statistics() == {"locked": False, "starving": False, "waiters": 0}
    assert interrupted[0] > 0, "no wait was interrupted"


# ---------------------------------------------------------------------------
# An interrupt that lands just as the call was completed: forced, one case each.
# The SIGUSR1 handler, running in the parked main thread, first completes the
# call (an unlock, a signal) and then raises, so the completion always wins
# the race, and the call must undo it.


_ACQUIRE_LINES = {
    i.positions.lineno
    for i in dis.get_instructions(_waiter.ThreadWaiter.park)
    if i.argval == "acquire" and i.positions is not None
}
"""The lines of ``park()`` that block in ``acquire()``."""


def completed_then_poked(
    call: Callable[[], None], complete: Callable[[], None], ready: Callable[[], bool]
) -> None:
    """Block the main thread in ``call()``; once ``ready()``, signal it, and have the
    handler run ``complete()`` before raising :class:`Poke`. Requires the Poke.

    A signal that arrives just before the thread blocks is handled only once it
    wakes (CPython checks for signals between bytecodes), so the handler acts
    only inside the blocked ``acquire()``, and the signal is sent again until
    it has.
    """
    acted = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if acted.is_set() or frame is None or frame.f_code is not _PARK:
            return
        if frame.f_lineno not in _ACQUIRE_LINES:
            return
        acted.set()
        complete()
        raise Poke

    def poke() -> None:
        until(ready, "the main thread to block")
        main = threading.main_thread().ident
        assert main is not None
        while not acted.wait(0.02):
            signal.pthread_kill(main, signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, on_signal)
    try:
        poker = spawn(poke)
        with pytest.raises(Poke):
            call()
        poker.join()
    finally:
        signal.signal(signal.SIGUSR1, old)


@pytest.mark.parametrize("queued_behind", [True, False], ids=["waiter-behind", "alone"])
def test_mutex_handed_over_as_the_interrupt_lands_is_handed_on(
    monkeypatch: pytest.MonkeyPatch, queued_behind: bool
) -> None:
    """Starvation mode hands the mutex to the interrupted main thread: it unlocks it
    again, handing it to the waiter behind, or leaving it free."""
    monkeypatch.setattr(gopool.sync.mutex, "_STARVATION_THRESHOLD", 0.0)
    mu = Mutex()
    mu.lock()
    waiters = 2 if queued_behind else 1
    tasks = []
    if queued_behind:

        def behind_main() -> None:
            until(lambda: mu.statistics()["waiters"] == 1, "the main thread queued")
            mu.lock()
            mu.unlock()

        tasks.append(spawn(behind_main))

    def starve() -> None:
        until(lambda: mu.statistics()["waiters"] == waiters, "the waiters")
        barge(mu)  # wakes the main thread, which loses and starts starvation mode

    tasks.append(spawn(starve))

    def starving() -> bool:
        s = mu.statistics()
        return bool(s["starving"]) and s["waiters"] == waiters

    completed_then_poked(mu.lock, mu.unlock, starving)
    join_all(tasks)
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


def test_mutex_wake_up_racing_the_interrupt_passes_the_turn_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Normal mode wakes the interrupted main thread to compete: it lets the next waiter
    compete instead, or nobody would wake it."""
    monkeypatch.setattr(gopool.sync.mutex, "_STARVATION_THRESHOLD", 60.0)
    mu = Mutex()
    mu.lock()
    got = threading.Event()

    def behind() -> None:
        until(lambda: mu.statistics()["waiters"] == 1, "the main thread queued")
        mu.lock()
        got.set()
        mu.unlock()

    t = spawn(behind)
    completed_then_poked(mu.lock, mu.unlock, lambda: mu.statistics()["waiters"] == 2)
    t.join()
    assert got.is_set()
    assert mu.statistics() == {"locked": False, "starving": False, "waiters": 0}


def test_rlock_admitted_as_the_interrupt_lands_is_released() -> None:
    """A writer's unlock admits the interrupted reader: it read-unlocks again, which
    lets in the writer queued next."""
    rw = RWMutex()
    rw.lock()
    second = spawn(lambda: (rw.lock(), rw.unlock()))
    completed_then_poked(
        rw.rlock,
        rw.unlock,
        lambda: rw.statistics()["readers_waiting"] == 1 and rw.statistics()["writers_waiting"] == 1,
    )
    second.join()
    assert rw.statistics() == {
        "readers": 0,
        "writer": False,
        "readers_waiting": 0,
        "writers_waiting": 0,
    }


def test_lock_handed_over_as_the_interrupt_lands_is_given_up() -> None:
    """The last reader hands the write lock to the interrupted writer: it gives it up,
    letting in the reader it held back."""
    rw = RWMutex()
    rw.rlock()
    readers: list[int] = []

    def reader() -> None:
        until(lambda: rw.statistics()["writers_waiting"] == 1, "the writer waiting")
        rw.rlock()
        readers.append(rw.statistics()["readers"])
        rw.runlock()

    t = spawn(reader)
    completed_then_poked(rw.lock, rw.runlock, lambda: rw.statistics()["readers_waiting"] == 1)
    t.join()
    assert readers == [1]
    assert rw.try_lock(), "the interrupted writer still holds the write lock (or _w)"
    rw.unlock()


def test_cond_wait_signalled_as_the_interrupt_lands() -> None:
    """A signal completes the interrupted wait: the exception propagates with ``l`` locked
    and nothing queued (the signal was this wait's, as after any wake-up)."""
    m = Mutex()
    c = Cond(m)
    m.lock()
    completed_then_poked(c.wait, c.signal, lambda: c.statistics()["waiters"] == 1)
    assert m.statistics()["locked"]
    assert c.statistics() == {"waiters": 0}
    m.unlock()


def test_cond_wait_interrupted_while_locking_l_again_still_locks_it() -> None:
    """Woken, the wait queues for ``l``; an interrupt there is held back until ``l`` is
    locked, then raised."""
    m = Mutex()
    c = Cond(m)
    released = threading.Event()

    def holder() -> None:
        until(lambda: c.statistics()["waiters"] == 1, "the main thread waiting")
        m.lock()
        c.signal()
        until(lambda: m.statistics()["waiters"] == 1, "the woken wait queued for l")
        main = threading.main_thread().ident
        assert main is not None
        while not poked.wait(0.02):  # again until it lands in the park
            signal.pthread_kill(main, signal.SIGUSR1)
        time.sleep(0.2)
        released.set()
        m.unlock()

    poked = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if frame is not None and frame.f_code is _PARK:
            poked.set()
            raise Poke

    old = signal.signal(signal.SIGUSR1, on_signal)
    try:
        t = spawn(holder)
        m.lock()
        with pytest.raises(Poke):
            c.wait()
        t.join()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert released.is_set(), "the interrupt propagated before l was locked again"
    assert m.statistics() == {"locked": True, "starving": False, "waiters": 0}
    assert c.statistics() == {"waiters": 0}
    m.unlock()


# ---------------------------------------------------------------------------
# dump() and the deadlock report name the call as Go does


@pytest.mark.parametrize("name", CALLS)
def test_dump_names_the_blocked_call(name: str) -> None:
    b = Blocking(name)
    b.hold()
    t = go(b.call)
    try:
        until(b.blocked, f"{name} to block")
        text = debug.dump()
    finally:
        b.release()
        t.join(10)
    number = t.name.split()[0].removeprefix("goroutine-")
    block = next(part for part in text.split("\n\n") if part.startswith(f"goroutine {number} ["))
    assert block.startswith(f"goroutine {number} [{GO_NAMES[name]}, "), block
    assert (
        f"    on {type(b.target).__name__}" in block
        or f"    on <{type(b.target).__name__} " in block
    )
    assert not t.is_alive()


DEADLOCKS = {
    "Mutex.lock": "mu = Mutex()\nmu.lock()\nmu.lock()\n",
    "RWMutex.rlock": "rw = RWMutex()\nrw.lock()\nrw.rlock()\n",
    "RWMutex.lock": "rw = RWMutex()\nrw.rlock()\nrw.lock()\n",
    "Cond.wait": "m = Mutex()\nc = Cond(m)\nm.lock()\nc.wait()\n",
}


@pytest.mark.parametrize("name", CALLS)
def test_deadlock_report_names_the_blocked_call(name: str) -> None:
    """Go's "all goroutines are asleep" for a main thread blocked on a lock nobody will free."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env["GOPOOL_DEADLOCK"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", "from gopool import Cond, Mutex, RWMutex\n" + DEADLOCKS[name]],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "fatal error: all goroutines are asleep - deadlock!" in proc.stderr
    assert f"main thread [{GO_NAMES[name]}, " in proc.stderr, proc.stderr
