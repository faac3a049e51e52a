"""Go's "fatal error: all goroutines are asleep - deadlock!" (gopool.debug).

Every case runs in a child interpreter with deadlock detection on (by
``set_deadlock_detection(True)``, or by ``GOPOOL_DEADLOCK=1``). A deadlocked
child must end with ``DeadlockError`` raised in its main thread (exit status
1, Go's message and the dump on stderr); a child that is not deadlocked must
finish normally, exit 0 and say nothing of a deadlock: a report while some
thread could still act would be a false one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import gopool
from gopool import _goroutines, debug

pytestmark = pytest.mark.timeout(60)

SRC = str(Path(gopool.__file__).resolve().parents[1])

PRELUDE = """
import sys, threading, time
import gopool.debug
from gopool import Chan, WaitGroup, after, go, nilchan, select, sleep
from gopool.debug import DeadlockError
gopool.debug.set_deadlock_detection(True)
"""

FATAL = "fatal error: all goroutines are asleep - deadlock!"


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: gopool importable, none of its variables unless given."""
    result = dict(os.environ)
    result.pop("GOPOOL_DEADLOCK", None)
    result.pop("GOPOOL_DUMP_SIGNAL", None)
    result["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, result.get("PYTHONPATH")]))
    result.update(env or {})
    return result


def script(source: str) -> str:
    """Write ``source`` to a file (so that stacks show its lines); the file's path."""
    fd, path = tempfile.mkstemp(prefix="gopool_deadlock_", suffix=".py")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    return path


def run(
    body: str, *, prelude: str = PRELUDE, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``prelude + body`` in a child interpreter; its output once it has exited."""
    path = script(prelude + body)
    try:
        return subprocess.run(
            [sys.executable, path],
            capture_output=True,
            text=True,
            env=child_env(env),
            timeout=timeout,
        )
    finally:
        os.unlink(path)


def assert_deadlock(proc: subprocess.CompletedProcess[str]) -> str:
    """Check that the child died of DeadlockError in its main thread; its stderr."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert f"gopool.debug.DeadlockError: {FATAL}" in proc.stderr, proc.stderr
    return proc.stderr


def assert_no_deadlock(proc: subprocess.CompletedProcess[str], stdout: str) -> None:
    assert "DeadlockError" not in proc.stderr and FATAL not in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == stdout


# -- the classic deadlocks --


def test_receive_with_no_sender() -> None:
    """The first deadlock every Go programmer meets: ``<-ch`` with nobody to send."""
    err = assert_deadlock(run("ch = Chan()\nch.recv()\n"))
    assert "main thread [chan receive, " in err
    assert "    from <Chan cap=0 len=0 open" in err
    assert "ch.recv()" in err  # the main thread's stack, down to the blocked line


def test_simple_deadlock_empty_select() -> None:
    """Port of Go's TestSimpleDeadlock (src/runtime/crash_test.go): ``select {}`` in main."""
    err = assert_deadlock(run("select()\n"))
    assert "main thread [select (no cases), " in err


def test_locked_deadlock2_goroutine_and_main_in_empty_selects() -> None:
    """Port of Go's TestLockedDeadlock2 (src/runtime/crash_test.go).

    A goroutine blocks in ``select {}``, the main thread sleeps a moment and
    blocks in ``select {}`` too.
    """
    err = assert_deadlock(run("go(select)\ntime.sleep(0.01)\nselect()\n"))
    assert "main thread [select (no cases), " in err
    assert "goroutine 1 [select (no cases), " in err


def test_article_basic_pool_without_close_jobs() -> None:
    """The article's basic pool with ``close(jobs)`` forgotten (issue 6's "done when").

    The ten results arrive, then the main thread blocks ranging over
    ``results``, the workers block ranging over ``jobs``, and the goroutine
    that would close ``results`` blocks in ``wg.wait()``.
    """
    body = """
def worker(id, jobs, results, wg):
    try:
        for job in jobs:
            sleep(0.001)
            results.send(job * 2)
    finally:
        wg.done()

jobs = Chan(10)
results = Chan(10)
wg = WaitGroup()
for w in range(1, 4):
    wg.add(1)
    go(worker, w, jobs, results, wg)
for j in range(1, 11):
    jobs.send(j)
# jobs.close() forgotten

def wait_and_close():
    wg.wait()
    results.close()

go(wait_and_close)
total = 0
for result in results:
    total += result
    print("Result:", result, flush=True)
"""
    proc = run(body)
    err = assert_deadlock(proc)
    assert proc.stdout.count("Result:") == 10
    assert "main thread [chan receive, " in err
    assert "for result in results:" in err
    for n in (1, 2, 3):
        assert f"goroutine {n} [chan receive, " in err
    assert err.count("for job in jobs:") >= 3
    assert "goroutine 4 [WaitGroup.wait, " in err
    assert "    on <WaitGroup counter=3 waiters=1" in err


def test_waitgroup_missing_done() -> None:
    """A WaitGroup counting two goroutines of which only one calls ``done()``."""
    body = """
wg = WaitGroup()
wg.add(2)
go(wg.done)
wg.wait()
"""
    err = assert_deadlock(run(body))
    assert "main thread [WaitGroup.wait, " in err
    assert "    on <WaitGroup counter=1 waiters=" in err


def test_last_to_block_is_a_goroutine() -> None:
    """The main thread blocks first; the goroutine that blocks last finds the deadlock."""
    body = """
ch = Chan()
def late():
    sleep(0.2)
    Chan[int](1).send(1)
    Chan().send(2)
go(late)
ch.recv()
"""
    err = assert_deadlock(run(body))
    assert "main thread [chan receive, " in err
    assert "goroutine 1 [chan send, " in err


def test_nil_channel_and_select_cases_named() -> None:
    """The dump names a nil channel's operation, and every case of a blocked select."""
    body = """
a, b = Chan(), Chan[int](0)
go(nilchan.send, 1)
sleep(0.05)
select(a.recv, (b.send, 7))
"""
    err = assert_deadlock(run(body))
    assert "goroutine 1 [chan send (nil chan), " in err
    assert "main thread [select, " in err
    assert "    case 0: receive from <Chan cap=0" in err
    assert "    case 1: send to <Chan cap=0" in err


def test_goroutine_exception_reported_before_the_deadlock() -> None:
    """A goroutine dies of an exception, leaving the main thread blocked forever.

    Its traceback is printed (through ``threading.excepthook``) before the
    deadlock report, as Go prints a panic ("report" mode: in the default
    one the main thread would get the panic instead).
    """
    body = """
gopool.set_panic_mode("report")
ch = Chan()
def bad():
    raise ValueError("boom")
go(bad)
ch.recv()
"""
    err = assert_deadlock(run(body))
    assert "ValueError: boom" in err
    assert err.index("ValueError: boom") < err.index("DeadlockError")


def test_deadlock_error_withdraws_the_operation() -> None:
    """The blocked operation is withdrawn: nothing received, the channel usable after.

    ``DeadlockError`` is a ``RuntimeError``; its ``dump`` is in its message.
    A second deadlock is reported again.
    """
    body = """
ch = Chan()
try:
    ch.recv()
except DeadlockError as e:
    assert isinstance(e, RuntimeError)
    assert str(e).startswith("fatal error: all goroutines are asleep - deadlock!\\n\\n")
    assert e.dump and e.dump in str(e)
    s = ch.statistics()
    assert s["receivers_waiting"] == 0 and not ch._recvq, s
    print("withdrawn", flush=True)
go(ch.send, 5)
print(ch.recv(), flush=True)
try:
    ch.send(1)
except DeadlockError:
    assert not ch._sendq
    print("again", flush=True)
"""
    proc = run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "withdrawn\n5\nagain\n"


def test_repeated_deadlocks_found_by_either_thread() -> None:
    """200 deadlocks in a row, found by the main thread or by the goroutine.

    Each round a goroutine blocks forever on a channel of its own while the
    main thread blocks on another one; whichever blocks last finds the
    deadlock. Every round must end in ``DeadlockError`` with the main
    thread's receive withdrawn.
    """
    body = """
for i in range(200):
    ch = Chan()
    go(Chan().recv)
    try:
        ch.recv()
    except DeadlockError:
        pass
    else:
        raise AssertionError("received")
    assert not ch._recvq
print("ok", flush=True)
"""
    proc = run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


# -- no report while something could still act --


def test_no_report_for_busy_ping_pong() -> None:
    """20,000 unbuffered round trips and the article's pool done right: never a report.

    Every hand-off parks one thread while the other is just being woken:
    the moment a false report would come from, if a woken (claimed) waiter
    were taken for a sleeping one.
    """
    body = """
ping, pong = Chan(), Chan()
def player():
    for v in ping:
        pong.send(v + 1)
go(player)
for i in range(20000):
    ping.send(i)
    assert pong.recv() == i + 1
ping.close()

for _ in range(10):
    jobs, results, wg = Chan(10), Chan(10), WaitGroup()
    def worker():
        try:
            for job in jobs:
                results.send(job * 2)
        finally:
            wg.done()
    for _ in range(3):
        wg.add(1)
        go(worker)
    for j in range(1, 11):
        jobs.send(j)
    jobs.close()
    def wait_and_close():
        wg.wait()
        results.close()
    go(wait_and_close)
    assert sum(results) == 110
print("ok", flush=True)
"""
    assert_no_deadlock(run(body), "ok\n")


def test_no_report_while_a_plain_thread_sleeps() -> None:
    """A plain thread in ``time.sleep`` could act later: no report, and it does send."""
    body = """
ch = Chan()
def later():
    time.sleep(0.5)
    ch.send(42)
threading.Thread(target=later).start()
print(ch.recv(), flush=True)
"""
    assert_no_deadlock(run(body), "42\n")


def test_no_report_while_a_goroutine_waits_on_a_queue() -> None:
    """A goroutine blocked in ``queue.Queue.get`` (outside gopool) is not asleep in gopool."""
    body = """
import queue
q = queue.Queue()
ch = Chan()
go(lambda: ch.send(q.get()))
def feed():
    time.sleep(0.5)
    q.put(7)
threading.Thread(target=feed).start()
print(ch.recv(), flush=True)
"""
    assert_no_deadlock(run(body), "7\n")


def test_no_report_while_a_thread_reads_stdin() -> None:
    """A plain thread blocked in I/O, then sending, the only other thread alive."""
    body = """
ch = Chan()
threading.Thread(target=lambda: ch.send(sys.stdin.readline().strip()), daemon=True).start()
print(ch.recv(), flush=True)
"""
    path = script(PRELUDE + body)
    proc = subprocess.Popen(
        [sys.executable, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        time.sleep(0.5)  # the main thread has long been parked in recv by now
        out, err = proc.communicate("hello\n", timeout=30)
    finally:
        proc.kill()
        os.unlink(path)
    assert "DeadlockError" not in err, err
    assert proc.returncode == 0 and out == "hello\n", (out, err)


def test_no_report_while_a_timer_is_pending() -> None:
    """A pending timer will fire: the receive from ``after()`` completes normally.

    So does a wait on a context's deadline, and a select including a timer.
    """
    body = """
from gopool import background, with_timeout
t0 = time.monotonic()
after(0.3).recv()
print("fired", time.monotonic() - t0 >= 0.29, flush=True)
ctx, cancel = with_timeout(background(), 0.2)
ctx.done().recv()
print(type(ctx.err()).__name__, flush=True)
print(select(Chan().recv, after(0.2).recv)[0], flush=True)
"""
    assert_no_deadlock(run(body), "fired True\nDeadlineExceeded\n1\n")


def test_no_report_for_waits_with_a_timeout() -> None:
    """A wait with a timeout is not asleep forever: it times out as usual."""
    body = """
ch = Chan()
for op in (lambda: ch.recv(timeout=0.2), lambda: select(ch.recv, timeout=0.2)):
    try:
        op()
    except TimeoutError:
        print("timeout", flush=True)
wg = WaitGroup()
wg.add(1)
print(wg.wait(timeout=0.2), flush=True)
"""
    assert_no_deadlock(run(body), "timeout\ntimeout\nFalse\n")


# -- reports that wait for a thread no hook sees --


def test_report_once_a_plain_thread_has_ended() -> None:
    """A plain thread that ends without acting: the deadlock is reported once it is gone."""
    body = """
threading.Thread(target=time.sleep, args=(0.3,)).start()
t0 = time.monotonic()
try:
    Chan().recv()
except DeadlockError:
    print("reported after the thread ended:", time.monotonic() - t0 >= 0.25, flush=True)
"""
    proc = run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "reported after the thread ended: True\n"


def test_report_once_an_unreceived_timer_has_fired() -> None:
    """A timer pending at the block fires into a channel nobody reads: then the report."""
    body = """
t0 = time.monotonic()  # before the timer is made: its deadline is at least 0.3 s from here
t = after(0.3)
try:
    Chan().recv()
except DeadlockError as e:
    print("reported after the timer fired:", time.monotonic() - t0 >= 0.3, flush=True)
    print("0 timers pending" in e.dump, flush=True)
"""
    proc = run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "reported after the timer fired: True\nTrue\n"


def test_report_after_a_timer_woke_the_main_thread() -> None:
    """The timer thread that just delivered, and is exiting, does not hide a deadlock."""
    body = """
for _ in range(5):
    after(0.01).recv()
    try:
        Chan().recv()
    except DeadlockError:
        print("reported", flush=True)
"""
    proc = run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "reported\n" * 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_starts_afresh() -> None:
    """A child forked while other threads hold the records' locks, and are parked, starts afresh.

    In the child only the forking thread exists: the parent's parked
    goroutine is forgotten, the locks copied held are replaced, and a
    deadlock of the child's own is reported (not hidden, and without hanging).
    """
    body = """
import os, warnings
from gopool import _goroutines
warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a threaded process
ch = Chan()
go(ch.recv)
while not ch.statistics()["receivers_waiting"]:
    time.sleep(0.001)
held, release = threading.Event(), threading.Event()
def hold():
    with _goroutines._watch_lock, _goroutines._registry_lock:
        held.set()
        release.wait()
threading.Thread(target=hold).start()
held.wait()
pid = os.fork()
if pid == 0:
    import signal
    signal.alarm(20)  # a child that hangs must not outlive the test
    go(lambda: None).join()
    try:
        Chan().recv()
    except DeadlockError as e:
        os._exit(0 if "goroutine 1 [" not in e.dump else 3)
    os._exit(4)
release.set()
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
ch.send(1)
"""
    assert_no_deadlock(run(body), "child exit 0\n")


# -- interrupts, switches and the environment --


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_reaches_a_watched_wait() -> None:
    """With detection on, Ctrl-C still reaches the main thread, which withdraws cleanly."""
    body = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
ch = Chan()
threading.Thread(target=sys.stdin.read, daemon=True).start()  # keeps it from being a deadlock
def ready():
    while not ch.statistics()["receivers_waiting"]:
        time.sleep(0.001)
    print("ready", flush=True)
threading.Thread(target=ready, daemon=True).start()
try:
    ch.recv()
except KeyboardInterrupt:
    assert not ch._recvq
    print("interrupted", flush=True)
"""
    path = script(PRELUDE + body)
    proc = subprocess.Popen(
        [sys.executable, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate("", timeout=30)
    finally:
        proc.kill()
        os.unlink(path)
    assert proc.returncode == 0, err
    assert out == "interrupted\n", (out, err)


def test_environment_variable_turns_detection_on() -> None:
    """``GOPOOL_DEADLOCK=1`` at import turns detection on; ``0``, or no variable, leaves it off."""
    prelude = "import gopool.debug\nfrom gopool import _goroutines, Chan\n"
    err = assert_deadlock(run("Chan().recv()\n", prelude=prelude, env={"GOPOOL_DEADLOCK": "1"}))
    assert "main thread [chan receive, " in err
    for env in ({"GOPOOL_DEADLOCK": "0"}, {}):  # off, and off by default
        proc = run("print(not _goroutines.detecting)\n", prelude=prelude, env=env)
        assert proc.returncode == 0 and proc.stdout == "True\n", proc.stderr


def test_environment_variable_bad_value() -> None:
    """A value that is neither on nor off is refused at import with ValueError."""
    proc = run("", prelude="import gopool.debug\n", env={"GOPOOL_DEADLOCK": "maybe"})
    assert proc.returncode == 1
    assert "ValueError: GOPOOL_DEADLOCK='maybe': expected 1 or 0" in proc.stderr


def test_ended_goroutines_are_forgotten() -> None:
    """With detection on, the goroutines that ended are not kept: nothing grows per goroutine."""
    previous = debug.set_deadlock_detection(True)
    try:
        mine = set()
        for _ in range(100):
            t = gopool.go(lambda: None)
            t.join(10)
            mine.add(t)
        with _goroutines._watch_lock:
            # At most the last one is still there, until the next goroutine ends.
            assert len(mine & _goroutines._exiting) <= 1
    finally:
        debug.set_deadlock_detection(previous)


def test_set_deadlock_detection_switch() -> None:
    """The switch returns the previous setting, installs and removes the hook, checks its type."""
    previous = debug.set_deadlock_detection(False)
    try:
        assert not _goroutines.detecting
        assert debug.set_deadlock_detection(True) is False
        assert _goroutines.detecting
        assert debug.set_deadlock_detection(True) is True
        assert debug.set_deadlock_detection(False) is True
        assert not _goroutines.detecting
        with pytest.raises(TypeError, match="must be a bool"):
            debug.set_deadlock_detection(1)  # type: ignore[arg-type]
        assert not _goroutines.detecting
    finally:
        debug.set_deadlock_detection(previous)
