"""Helpers shared by the test files.

The library offers no event for "a thread has parked on this channel", so the
tests that need a thread to be blocked before they act wait for it through
the channel's ``statistics()`` (:func:`until` polls, test-side only, with a
generous deadline). Threads started by tests go through :func:`spawn`, so an
assertion failing inside a thread fails the test that joins it.

Stress tests size themselves through :data:`STRESS` and carry
:func:`stress_test`: ``GOPOOL_STRESS=4`` runs each of them with four times
the threads and four times the iterations (CI does so on free-threaded
CPython), and ``pytest -m stress`` selects them. Tests marked
``parallel_safe`` (a whole file at a time) keep no state outside their own
objects, so CI also runs them in several threads at once (``pytest -m
parallel_safe --parallel-threads=4``, the pytest-run-parallel plugin) to
shake out races; a test in such a file that reads process-wide state
carries ``thread_unsafe(reason=...)`` and runs only in the plain run.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gopool import Chan
from gopool._waiter import ThreadWaiter, Waiter

DEADLINE = 10.0
"""Seconds any test-side wait allows before declaring the library stuck."""

F = TypeVar("F", bound=Callable[..., Any])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "stress: a stress test, sized by GOPOOL_STRESS (see conftest.STRESS)"
    )
    config.addinivalue_line(
        "markers",
        "parallel_safe: keeps no state outside its own objects; CI runs it in several"
        " threads at once (pytest-run-parallel)",
    )
    # pytest-run-parallel's own marker, registered here too for runs without the plugin.
    config.addinivalue_line(
        "markers",
        "thread_unsafe(reason): reads process-wide state (goroutine or timer counts, the"
        " process's CPU time): never run in several threads at once",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that asks for fast_switch is a stress test (see the fixture).
    for item in items:
        if "fast_switch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stress)


# -- the stress scale --

STRESS_VARIABLE = "GOPOOL_STRESS"


def stress_factor(environ: Mapping[str, str] = os.environ) -> int:
    """The scale ``GOPOOL_STRESS`` asks for: a positive integer, 1 when unset or empty.

    Raises ValueError naming the variable for anything else, so a typo in CI
    fails the run instead of quietly testing at scale 1.
    """
    raw = environ.get(STRESS_VARIABLE, "").strip()
    if not raw:
        return 1
    try:
        factor = int(raw)
    except ValueError:
        raise ValueError(f"{STRESS_VARIABLE}={raw!r}: expected a positive integer") from None
    if factor < 1:
        raise ValueError(f"{STRESS_VARIABLE}={raw!r}: expected a positive integer")
    return factor


@dataclass(frozen=True)
class Stress:
    """How hard the stress tests push. Every stress test sizes itself through
    :data:`STRESS`, never through the environment directly.

    At factor ``f`` a stress test runs ``f`` times the threads and ``f``
    times the iterations in all: scale the thread count where the test's
    shape allows it, keeping each thread's iterations; where the shape fixes
    the threads (one sender and one receiver, a ring of a set size), scale
    the iterations instead. Either way the work grows by ``f``, not ``f``
    squared, and :meth:`seconds` grows the test's time bounds to match.
    Assertions stay exact at every scale: sizes change, checks do not.
    """

    factor: int

    def threads(self, n: int) -> int:
        """``n`` threads at scale 1."""
        return n * self.factor

    def iterations(self, n: int) -> int:
        """``n`` iterations at scale 1: a total, or a loop whose threads are not scaled."""
        return n * self.factor

    def seconds(self, s: float) -> float:
        """A deadline or timeout of ``s`` seconds at scale 1."""
        return s * self.factor


STRESS = Stress(stress_factor())


def stress_marks(timeout: float) -> list[pytest.MarkDecorator]:
    """The marks of a stress test: ``stress``, and a pytest-timeout bound of
    ``timeout`` seconds at scale 1 (grown by :meth:`Stress.seconds`). For a
    file of stress tests: ``pytestmark = stress_marks(60)``."""
    return [pytest.mark.stress, pytest.mark.timeout(STRESS.seconds(timeout))]


def stress_test(timeout: float) -> Callable[[F], F]:
    """Decorate one stress test with :func:`stress_marks`."""

    def mark(fn: F) -> F:
        for m in stress_marks(timeout):
            fn = m(fn)
        return fn

    return mark


def until(
    predicate: Callable[[], bool], what: str = "condition", deadline: float = DEADLINE
) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def wait_blocked(ch: Chan[Any], *, senders: int = 0, receivers: int = 0) -> None:
    """Wait until at least ``senders``/``receivers`` entries are parked on ``ch``."""

    def parked() -> bool:
        s = ch.statistics()
        return s["senders_waiting"] >= senders and s["receivers_waiting"] >= receivers

    until(parked, f"{senders} senders and {receivers} receivers parked on {ch!r}")


def idle(ch: Chan[Any]) -> bool:
    """Whether nobody waits on ``ch`` (by its statistics) and no entry is queued at all."""
    s = ch.statistics()
    return s["senders_waiting"] == 0 and s["receivers_waiting"] == 0 and queued(ch) == 0


def queued(ch: Chan[Any]) -> int:
    """Entries in ``ch``'s wait queues, stale ones included.

    White-box: ``statistics()`` leaves out entries whose waiter is already
    claimed, so it cannot show an entry that a select forgot to withdraw.
    This peeks at the queues themselves to catch such leaks.
    """
    with ch._lock:
        return len(ch._sendq) + len(ch._recvq)


class Task:
    """A thread running ``fn(*args)``, whose result or exception :meth:`join` hands back."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._fn = fn
        self._args = args
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = self._fn(*self._args)
        except BaseException as exc:
            self.error = exc

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self, deadline: float = DEADLINE) -> Any:
        """Wait for the thread; return its result, or re-raise what it raised."""
        self.thread.join(deadline)
        if self.thread.is_alive():
            raise AssertionError(f"{self._fn!r} still blocked after {deadline} s")
        if self.error is not None:
            raise self.error
        return self.result


def announce_parks(monkeypatch: pytest.MonkeyPatch, *reasons: str) -> Chan[Waiter]:
    """A channel that receives each waiter whose reason is one of ``reasons`` as it parks.

    A thread parks only after publishing its waiter, which is the moment a
    completer can see it: a test receives from the channel instead of
    sleeping to let a thread block.
    """
    published: Chan[Waiter] = Chan(10_000)
    park = ThreadWaiter.park

    def announcing_park(w: ThreadWaiter, timeout: float | None = None) -> bool:
        if isinstance(w.what, tuple) and w.what[0] in reasons:
            published.send(w)
        return park(w, timeout)

    monkeypatch.setattr(ThreadWaiter, "park", announcing_park)
    return published


def spawn(fn: Callable[..., Any], *args: Any) -> Task:
    """Start ``fn(*args)`` in a daemon thread; see :class:`Task`."""
    return Task(fn, *args)


def spawn_in_turn(
    fn: Callable[[int], Any], n: int, queued: Callable[[], int], what: str = "threads queued"
) -> list[Task]:
    """Start ``fn(0)``, ..., ``fn(n - 1)``, each once ``queued()`` (a count of blocked
    threads) shows the one before blocked, so that they queue in that order."""
    tasks = []
    for i in range(n):
        tasks.append(spawn(fn, i))
        until(lambda i=i: queued() > i, f"{i + 1} {what}")
    return tasks


def join_all(tasks: list[Task], deadline: float = DEADLINE) -> list[Any]:
    """Join every task (sharing one deadline); results in order."""
    end = time.monotonic() + deadline
    return [t.join(max(0.0, end - time.monotonic())) for t in tasks]


def hammer(threads: int, body: Callable[[int], object], deadline: float = 150) -> list[Any]:
    """Run ``body(i)`` for i in range(threads), each in a thread, released together by a
    barrier so that they contend; their results in order (a failure in one fails the test).
    """
    start = threading.Barrier(threads)

    def run(i: int) -> object:
        start.wait()
        return body(i)

    return join_all([spawn(run, i) for i in range(threads)], deadline)


@pytest.fixture
def fast_switch() -> Iterator[None]:
    """Make the GIL switch threads every microsecond or so, so that stress tests interleave
    inside operations (a free-threaded build runs them in parallel anyway). A test that
    uses it is marked ``stress``."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


class YieldingInt(int):
    """An int whose ``==`` yields the processor: a thread switch between a compare-and-swap's
    comparison and its swap, even under the GIL."""

    def __eq__(self, other: object) -> bool:
        time.sleep(0)
        return int.__eq__(self, other) is True

    __hash__ = int.__hash__


class CallbackLedger:
    """Callbacks armed by key that record their runs, to check "each ran exactly once,
    unless its ``stop()`` prevented it, and then never" once the races are over.

    Thread-safe; waits on a plain ``threading.Condition``, not on gopool.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: set[Hashable] = set()
        self._prevented: set[Hashable] = set()
        self._runs: Counter[Hashable] = Counter()
        self._open = 0

    def arm(self, key: Hashable) -> Callable[[], None]:
        """Count ``key`` as armed; the callback that records its run."""
        with self._cond:
            self._armed.add(key)
            self._open += 1

        def callback() -> None:
            with self._cond:
                self._runs[key] += 1
                self._open -= 1
                self._cond.notify_all()

        return callback

    def prevent(self, key: Hashable) -> None:
        """``key``'s callback was stopped before it ran: it must never run."""
        with self._cond:
            self._prevented.add(key)
            self._open -= 1
            self._cond.notify_all()

    def check(self, deadline: float = DEADLINE) -> None:
        """Wait until every armed callback ran or was prevented, then check the runs."""
        with self._cond:
            settled = self._cond.wait_for(lambda: self._open <= 0, deadline)
            assert settled, f"{self._open} callbacks neither ran nor were stopped"
            assert set(self._runs) == self._armed - self._prevented
            twice = [k for k, n in self._runs.items() if n > 1]
            assert not twice, f"callbacks ran more than once: {twice[:10]}"


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    """Fail if a thread started during the test is still running at its end.

    Threads that are on their way out get a few seconds to finish (joined,
    not polled). The timer scheduler thread is shared by the whole process
    and not the test's to stop.
    """
    before = set(threading.enumerate())
    yield
    gc.collect()
    left = []
    for t in threading.enumerate():
        if t in before or t.name == "gopool-timers":
            continue
        t.join(5.0)
        if t.is_alive():
            left.append(t)
    assert not left, f"threads left running: {left}"


class Gate:
    """Jobs that block until the test opens the gate, counting how many started."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self._started = 0

    def __call__(self, x: Any) -> Any:
        with self._lock:
            self._started += 1
        if not self.opened.wait(DEADLINE):
            raise AssertionError("gate never opened")
        return x

    @property
    def started(self) -> int:
        with self._lock:
            return self._started

    def open(self) -> None:
        self.opened.set()


# A shell runs a background job with SIGINT ignored, and an ignored signal
# stays ignored across exec: a suite started that way (CI in the background)
# would start every child interpreter deaf to Ctrl-C, and each test that
# sends one SIGINT would hang. A handled signal is reset to the default at
# exec, so with Python's handler restored here, every child installs its own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


CHILD_HELPERS = """
import signal, sys, threading, time
# A child started from a shell job may inherit SIGINT ignored: restore Python's handler.
signal.signal(signal.SIGINT, signal.default_int_handler)

def ready_when(predicate):
    def watch():
        while not predicate():
            time.sleep(0.001)
        print("ready", flush=True)
    threading.Thread(target=watch, daemon=True).start()

def check(ok, what):
    if not ok:
        print("FAILED:", what, flush=True)
        sys.exit(1)

def interrupted(block):
    try:
        block()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return
    check(False, "the blocking call returned")
"""
"""The start of a :func:`sigint_child` body: Python's SIGINT handler, and the helpers
``ready_when(predicate)`` (print ``ready`` once it holds), ``check(ok, what)`` (exit 1
with ``FAILED: what`` unless ok) and ``interrupted(block)`` (call it, require
KeyboardInterrupt, print ``interrupted``)."""


def sigint_child(body: str) -> str:
    """Run ``body`` in a child interpreter; SIGINT it once it prints ``ready``.

    Returns the child's stdout; fails unless it exits 0. The child sees this
    checkout's gopool first on its path.
    """
    src = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", body],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            out, err = proc.communicate(timeout=30)
            raise AssertionError(f"child not ready: {line!r}{out}\n{err}")
        time.sleep(0.1)  # let the main thread go from "published" to parked
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out
