"""The goroutine dump (gopool.debug.dump) and the signal that prints it.

The dump is checked in this process against goroutines parked on purpose
in every kind of wait; the signal handler, which must print and let the
program carry on, and the environment variable are checked in child
interpreters.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import spawn, until, wait_blocked

import gopool
import gopool._panic
from gopool import (
    Chan,
    Once,
    WaitGroup,
    _goroutines,
    background,
    debug,
    go,
    nilchan,
    select,
    sleep,
    with_cancel,
)
from gopool._waiter import ThreadWaiter

pytestmark = pytest.mark.timeout(60)

SRC = str(Path(gopool.__file__).resolve().parents[1])


def block_of(text: str, header: str) -> str:
    """The block of the dump whose first line starts with ``header``."""
    for block in text.split("\n\n"):
        if block.startswith(header):
            return block
    raise AssertionError(f"no block starting {header!r} in:\n{text}")


def named_block(text: str, name: str) -> str:
    """The block of the dump about the thread named ``name``."""
    for block in text.split("\n\n"):
        if block.splitlines()[0].endswith(f"]: {name}"):
            return block
    raise AssertionError(f"no block for {name!r} in:\n{text}")


def seconds_in(block: str) -> float:
    """The duration in a block's header: ``[reason, 1.5 seconds...]``."""
    m = re.search(r", (\d+\.\d) seconds", block.splitlines()[0])
    assert m, block
    return float(m.group(1))


def number_of(thread: threading.Thread) -> int:
    """A goroutine's number, from its thread's name ``goroutine-N [fn]``."""
    m = re.fullmatch(r"goroutine-(\d+) \[.*\]", thread.name)
    assert m, thread.name
    return int(m.group(1))


def parked_count(thread: threading.Thread) -> int:
    """How many waiters ``thread`` is recorded parked on (watched or not)."""
    return len(_goroutines.snapshot().waiters.get(thread.ident or 0, ()))


def worker(jobs: Chan[int]) -> None:
    for _job in jobs:
        pass


def test_dump_names_what_every_goroutine_waits_on() -> None:
    """Each goroutine's header gives Go's wait reason and how long; then the objects, by repr.

    Covers a receive (ranging over a channel), a send, a select (every case
    named), ``WaitGroup.wait``, ``Once.do`` and a context's done channel.
    """
    jobs: Chan[int] = Chan()
    out: Chan[int] = Chan()
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()
    wg = WaitGroup()
    wg.add(1)
    once = Once()
    release: Chan[None] = Chan()
    ctx, cancel = with_cancel(background())
    threads = {
        "recv": go(worker, jobs),
        "send": go(out.send, 1),
        "select": go(select, a.recv, (b.send, 2)),
        "wg": go(wg.wait),
        "once runner": go(once.do, release.recv),
    }
    wait_blocked(release, receivers=1)
    threads["once"] = go(once.do, lambda: None)
    threads["ctx"] = go(ctx.done().recv)
    try:
        until(lambda: all(parked_count(t) == 1 for t in threads.values()), "all parked")
        time.sleep(0.3)
        text = debug.dump()

        def block(key: str) -> str:
            return block_of(text, f"goroutine {number_of(threads[key])} [")

        recv = block("recv")
        assert recv.startswith(f"goroutine {number_of(threads['recv'])} [chan receive, ")
        assert recv.splitlines()[0].endswith("]: worker")
        assert f"    from <Chan cap=0 len=0 open receivers_waiting=1 at {id(jobs):#x}>" in recv
        assert seconds_in(recv) >= 0.2
        # Its stack, down to the line that blocked, and where it was started.
        assert ", in worker\n    for _job in jobs:" in recv
        assert "created by test_dump_names_what_every_goroutine_waits_on in the main thread" in recv
        assert "test_debug.py:" in recv.splitlines()[-1]

        send = block("send")
        assert "[chan send, " in send
        assert f"    to <Chan cap=0 len=0 open senders_waiting=1 at {id(out):#x}>" in send

        sel = block("select")
        assert "[select, " in sel
        assert (
            f"    case 0: receive from <Chan cap=0 len=0 open receivers_waiting=1 at {id(a):#x}>"
            in sel
        )
        assert f"    case 1: send to <Chan cap=0 len=0 open senders_waiting=1 at {id(b):#x}>" in sel

        assert f"    on {wg!r}" in block("wg") and "[WaitGroup.wait, " in block("wg")
        assert "[Once.do, " in block(
            "once"
        ) and f"    on <Once running waiters=1 at {id(once):#x}>" in block("once")
        assert "[chan receive, " in block("once runner")  # inside the function Once runs
        assert "    from <done Chan of a context open receivers_waiting=1 at " in block("ctx")

    finally:
        jobs.close()
        out.recv()
        b.recv()
        wg.done()
        release.send(None)
        cancel()
    for key, t in threads.items():
        t.join(10)
        assert not t.is_alive(), key


def test_dump_shows_the_time_left_of_timed_waits() -> None:
    """A wait with a timeout says when it times out: ``sleep``, a nil channel's receive."""

    def nil_wait() -> None:
        with pytest.raises(TimeoutError):
            nilchan.recv(timeout=4.0)

    threads = {"sleep": go(sleep, 4.0), "nil": go(nil_wait)}
    until(lambda: all(parked_count(t) == 1 for t in threads.values()), "both parked")
    text = debug.dump()
    for key, reason in (("sleep", "sleep"), ("nil", "chan receive (nil chan)")):
        block = block_of(text, f"goroutine {number_of(threads[key])} [")
        m = re.match(
            rf"goroutine \d+ \[{re.escape(reason)}, \d+\.\d seconds, "
            r"times out in (\d+\.\d) seconds\]",
            block,
        )
        assert m, block
        assert 0.0 <= float(m.group(1)) <= 4.0
    for t in threads.values():
        t.join(10)
        assert not t.is_alive()


def test_dump_lists_main_and_other_threads() -> None:
    """The main thread comes first; a plain thread is listed by name as running."""
    stop = threading.Event()
    plain = threading.Thread(target=stop.wait, name="plain-waiter", daemon=True)
    plain.start()

    def waiting() -> bool:
        # Its innermost frame is Event.wait's (or the Condition.wait it calls):
        # until then its stack is still threading's bootstrap.
        frame = sys._current_frames().get(plain.ident or 0)
        return frame is not None and frame.f_code.co_name == "wait"

    try:
        until(waiting, "the plain thread in Event.wait")
        text = debug.dump()
    finally:
        stop.set()
        plain.join()
    assert text.startswith("gopool: the main thread, ")
    blocks = text.split("\n\n")
    if threading.current_thread() is threading.main_thread():
        assert blocks[1].startswith("main thread [running]:")
        assert "in test_dump_lists_main_and_other_threads\n    text = debug.dump()" in blocks[1]
        # The dump's own frames are left out of the thread that made it.
        assert os.path.join("gopool", "debug.py") not in blocks[1]
    other = block_of(text, "thread [running]: plain-waiter")
    assert ", in wait\n" in other  # its own stack: Event.wait


def test_dump_counts_and_leaves_out_ended_goroutines() -> None:
    """A goroutine whose function has ended leaves the registry, and the dump."""
    ch: Chan[int] = Chan(1)
    t = go(ch.send, 1)
    t.join(10)
    assert t.ident not in _goroutines.snapshot().goroutines
    assert f"goroutine {number_of(t)} [" not in debug.dump()
    hold: Chan[None] = Chan()
    g = go(hold.recv)
    n = number_of(g)
    try:
        wait_blocked(hold, receivers=1)
        text = debug.dump()
        assert f"goroutine {n} [chan receive, " in text
        header = text.splitlines()[0]
        assert re.match(
            r"gopool: the main thread, \d+ goroutines?, \d+ other threads?; \d+ timers? pending",
            header,
        )
    finally:
        hold.close()
    g.join(10)
    assert f"goroutine {n} [" not in debug.dump()


def test_goroutine_started_by_a_goroutine_names_its_creator() -> None:
    """``created by`` names the function that called go() and the goroutine it ran in."""
    hold: Chan[None] = Chan()
    started: Chan[threading.Thread] = Chan(1)

    def parent() -> None:
        started.send(go(hold.recv))

    p = go(parent)
    parent_n = number_of(p)
    child = started.recv()
    assert child is not None
    try:
        wait_blocked(hold, receivers=1)
        block = block_of(debug.dump(), f"goroutine {number_of(child)} [")
        creator = "test_goroutine_started_by_a_goroutine_names_its_creator.<locals>.parent"
        assert f"created by {creator} in goroutine {parent_n}" in block
    finally:
        hold.close()
    child.join(10)


def test_goroutine_exception_still_reported_and_unregistered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An exception escaping a goroutine goes to threading.excepthook; the registry forgets it.

    ("report" mode: in the default one the test's main thread would get the panic.)
    """
    monkeypatch.setattr(gopool._panic, "_mode", "report")
    seen: list[threading.ExceptHookArgs] = []
    old = threading.excepthook
    threading.excepthook = seen.append
    try:
        t = go(lambda: 1 / 0)
        t.join(10)
    finally:
        threading.excepthook = old
    assert len(seen) == 1 and seen[0].exc_type is ZeroDivisionError and seen[0].thread is t
    assert t.ident not in _goroutines.snapshot().goroutines


def test_claimed_waiter_shows_runnable() -> None:
    """A parked thread whose waiter has been claimed is runnable (its partner is waking it)."""
    ch: Chan[int] = Chan()
    w = ThreadWaiter(("chan receive", ch))
    task = spawn(w.park)
    until(lambda: parked_count(task.thread) == 1, "the thread parked")
    assert named_block(debug.dump(), task.thread.name).startswith("thread [chan receive, ")
    assert w.claim()
    try:
        block = named_block(debug.dump(), task.thread.name)
        assert block.startswith("thread [runnable]: ")
    finally:
        w.wake()
    assert task.join() is True
    assert parked_count(task.thread) == 0


def test_dump_to_file() -> None:
    """``dump(file=...)`` writes the text it returns, and flushes."""
    buf = io.StringIO()
    text = debug.dump(file=buf)
    assert buf.getvalue() == text
    assert text.endswith("\n") and "main thread [" in text


def test_install_dump_signal_returns_previous_handler() -> None:
    """The previous handler is returned, as signal.signal does; a non-int is a TypeError."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set from the main thread")
    sig = signal.SIGUSR1
    before = signal.getsignal(sig)
    prev = debug.install_dump_signal(sig)
    try:
        assert prev is before
        assert debug.install_dump_signal(sig) is signal.getsignal(sig)
    finally:
        signal.signal(sig, before)
    for bad in ("QUIT", True, 3.0):
        with pytest.raises(TypeError, match="sig must be a signal number"):
            debug.install_dump_signal(bad)  # type: ignore[arg-type]
    assert signal.getsignal(sig) is before


# -- in a child interpreter --

CHILD = """
import os, signal, sys, threading, time
import gopool.debug
from gopool import Chan, go

def worker(jobs):
    for job in jobs:
        pass

jobs = Chan()
go(worker, jobs)
got = Chan()
def relay():
    got.send(sys.stdin.readline().strip())
relayer = threading.Thread(target=relay, name="stdin-relay", daemon=True)
relayer.start()
def relay_reading():
    # Its innermost Python frame is relay()'s one line (the read is in C), so
    # every dump from now on ends with that line.
    frame = sys._current_frames().get(relayer.ident)
    return frame is not None and frame.f_code is relay.__code__
def ready():
    while not (
        jobs.statistics()["receivers_waiting"]
        and got.statistics()["receivers_waiting"]
        and relay_reading()
    ):
        time.sleep(0.001)
    print("ready", flush=True)
threading.Thread(target=ready, daemon=True).start()
print("got", got.recv(), flush=True)
"""


def start_child(source: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    fd, path = tempfile.mkstemp(prefix="gopool_debug_", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    child_env = dict(os.environ)
    child_env.pop("GOPOOL_DEADLOCK", None)
    child_env.pop("GOPOOL_DUMP_SIGNAL", None)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, child_env.get("PYTHONPATH")]))
    child_env.update(env)
    proc = subprocess.Popen(
        [sys.executable, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    return proc, path


def read_until(stream: io.TextIOBase, marker: str, into: list[str]) -> None:
    """Read lines from ``stream`` into ``into`` until one contains ``marker``."""
    while True:
        line = stream.readline()
        if not line:
            raise AssertionError(f"stream ended before {marker!r}: {''.join(into)}")
        into.append(line)
        if marker in line:
            return


def signal_and_carry_on(env: dict[str, str], sig: int, install: str = "") -> str:
    """Start CHILD, send ``sig`` twice, check it prints two dumps and still runs; its stderr."""
    proc, path = start_child(install + CHILD, env)
    err: list[str] = []
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "ready\n"
        for _ in range(2):
            proc.send_signal(sig)
            # The relay thread's block comes last: once its stack is out, the
            # whole dump is (it is written at once).
            read_until(proc.stderr, "got.send(sys.stdin.readline().strip())", err)
        out, rest = proc.communicate("hello\n", timeout=30)
    finally:
        proc.kill()
        os.unlink(path)
    assert proc.returncode == 0, (out, "".join(err) + rest)
    assert out == "got hello\n"
    return "".join(err)


@pytest.mark.skipif(not hasattr(signal, "SIGQUIT"), reason="needs SIGQUIT")
def test_sigquit_prints_the_dump_and_the_program_carries_on() -> None:
    """``install_dump_signal(SIGQUIT)``: each SIGQUIT prints the dump; the program goes on."""
    err = signal_and_carry_on(
        {},
        signal.SIGQUIT,
        "import signal, gopool.debug\ngopool.debug.install_dump_signal(signal.SIGQUIT)\n",
    )
    assert err.count("SIGQUIT: goroutine dump (the program carries on)") == 2
    assert "main thread [chan receive, " in err
    assert "goroutine 1 [chan receive, " in err and "in worker\n    for job in jobs:" in err
    assert "thread [running]: stdin-relay" in err


@pytest.mark.skipif(not hasattr(signal, "SIGQUIT"), reason="needs SIGQUIT")
@pytest.mark.parametrize("value", ["QUIT", "SIGUSR1", str(int(getattr(signal, "SIGUSR2", 12)))])
def test_environment_variable_installs_the_handler(value: str) -> None:
    """``GOPOOL_DUMP_SIGNAL`` (a name, with or without SIG, or a number) installs it at import."""
    name = value if not value.isdigit() else signal.Signals(int(value)).name
    sig = signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    err = signal_and_carry_on({"GOPOOL_DUMP_SIGNAL": value}, sig)
    assert err.count(f"{sig.name}: goroutine dump") == 2


def test_environment_variable_bad_signal() -> None:
    """A name that is no signal is refused at import with ValueError."""
    proc, path = start_child("import gopool.debug\n", {"GOPOOL_DUMP_SIGNAL": "NOPE"})
    try:
        _, err = proc.communicate("", timeout=30)
    finally:
        proc.kill()
        os.unlink(path)
    assert proc.returncode == 1
    assert "ValueError: GOPOOL_DUMP_SIGNAL='NOPE': not a signal name" in err


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
def test_signal_inside_a_channel_critical_section_does_not_deadlock() -> None:
    """A dump requested while the main thread holds a channel's lock still completes.

    The main thread keeps taking the lock of a channel a goroutine is parked
    on (``len(ch)``) while dump signals arrive; the handler leaves the
    rendering, which takes that lock too, to another thread.
    """
    source = """
import os, signal, sys, threading, time
import gopool.debug
from gopool import Chan, go
gopool.debug.install_dump_signal(signal.SIGUSR1)
ch = Chan()
go(ch.recv)
while not ch.statistics()["receivers_waiting"]:
    time.sleep(0.001)
def pester():
    for _ in range(20):
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.01)
    print("sent", flush=True)
t = threading.Thread(target=pester)
t.start()
while t.is_alive():
    len(ch)
time.sleep(0.5)  # let the last dumps finish printing
ch.send(1)
print("done", flush=True)
"""
    proc, path = start_child(source, {})
    try:
        out, err = proc.communicate("", timeout=30)
    finally:
        proc.kill()
        os.unlink(path)
    assert proc.returncode == 0, err
    assert out == "sent\ndone\n"
    assert err.count("SIGUSR1: goroutine dump") >= 1
