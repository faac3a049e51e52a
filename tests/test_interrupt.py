"""Ctrl-C reaches a main thread blocked in any channel operation, and the operation
withdraws cleanly: it sent or received nothing, and the channel is left intact.

Each case runs in a child interpreter (``sys.executable -c``) whose main thread blocks
in one operation. A watcher thread in the child prints ``ready`` once the main thread
is parked (by the channel's statistics); the parent then sends SIGINT. The child
prints ``interrupted`` when KeyboardInterrupt reaches it, then checks the channel and
prints ``intact``, and exits 0; any failed check prints ``FAILED: ...`` and exits 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHILD_HELPERS

import gopool

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals"),
]

PRELUDE = (
    CHILD_HELPERS
    + """
from gopool import Chan, nilchan, select

def ready_now():
    print("ready", flush=True)

def waiting(ch):
    s = ch.statistics()
    return s["senders_waiting"] + s["receivers_waiting"]

def nothing_to_receive(ch):
    try:
        ch.recv(timeout=0)
    except TimeoutError:
        return True
    return False
"""
)


def run_child(body: str, settle: float = 0.1) -> None:
    """Run PRELUDE + body in a child; SIGINT it once ready; require a clean exit."""
    src = str(Path(gopool.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + body],
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
        time.sleep(settle)  # let the main thread go from "published" to parked
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert out.split() == ["interrupted", "intact"], f"stdout:\n{out}\nstderr:\n{err}"


def test_interrupt_unbuffered_send() -> None:
    """The interrupted send delivered nothing: a receiver finds no value."""
    run_child("""
c = Chan()
ready_when(lambda: waiting(c) == 1)
interrupted(lambda: c.send("lost?"))
check(waiting(c) == 0, "nobody waits any more")
check(nothing_to_receive(c), "the interrupted send was delivered")
t = threading.Thread(target=c.send, args=("next",))
t.start()
check(c.recv(timeout=10) == "next", "the channel still works")
t.join()
print("intact")
""")


def test_interrupt_send_on_full_buffer() -> None:
    run_child("""
c = Chan(1)
c.send("first")
ready_when(lambda: waiting(c) == 1)
interrupted(lambda: c.send("second"))
check(waiting(c) == 0, "nobody waits any more")
check(len(c) == 1, "the buffer holds only the first value")
check(c.recv(timeout=0) == "first", "the buffered value is still there")
check(nothing_to_receive(c), "the interrupted send was delivered")
print("intact")
""")


@pytest.mark.parametrize("call", ["c.recv()", "c.recv_ok()", "c.recv(timeout=60)"])
def test_interrupt_recv(call: str) -> None:
    """The interrupted receiver took nothing: a later value stays in the buffer."""
    run_child(f"""
c = Chan(1)
ready_when(lambda: waiting(c) == 1)
interrupted(lambda: {call})
check(waiting(c) == 0, "nobody waits any more")
c.send("later", timeout=0)
check(len(c) == 1, "the later value went to a withdrawn receiver")
check(c.recv(timeout=0) == "later", "the later value is still there")
print("intact")
""")


def test_interrupt_unbuffered_recv() -> None:
    """No sender can hand its value to the withdrawn receiver."""
    run_child("""
c = Chan()
ready_when(lambda: waiting(c) == 1)
interrupted(c.recv)
check(waiting(c) == 0, "nobody waits any more")
try:
    c.send("nobody", timeout=0)
    check(False, "a send was taken by the withdrawn receiver")
except TimeoutError:
    pass
print("intact")
""")


@pytest.mark.parametrize("timeout", ["None", "60"])
def test_interrupt_select(timeout: str) -> None:
    run_child(f"""
a = Chan(1)
b = Chan()
ready_when(lambda: waiting(a) == 1 and waiting(b) == 1)
interrupted(lambda: select(a.recv, (b.send, "x"), timeout={timeout}))
check(waiting(a) == 0 and waiting(b) == 0, "nobody waits any more")
a.send(1, timeout=0)
check(a.recv(timeout=0) == 1, "a later value on a is still there")
check(nothing_to_receive(b), "the select's send was delivered")
print("intact")
""")


def test_interrupt_iteration() -> None:
    run_child("""
c = Chan(2)
c.send(1)
c.send(2)
got = []
def loop():
    for v in c:
        got.append(v)
ready_when(lambda: waiting(c) == 1)
interrupted(loop)
check(got == [1, 2], "the buffered values were received")
check(waiting(c) == 0, "nobody waits any more")
c.send(3, timeout=0)
check(c.recv(timeout=0) == 3, "a later value is still there")
print("intact")
""")


@pytest.mark.parametrize(
    "call",
    ["nilchan.recv()", "nilchan.send(1)", "select()", "select(nilchan.recv, (nilchan.send, 1))"],
)
def test_interrupt_forever_blocked(call: str) -> None:
    """Operations that block forever (nil channel, empty select) are still interruptible.

    Nothing to watch here: the parent's pause after ``ready`` lets the child park.
    """
    run_child(
        f"""
ready_now()
interrupted(lambda: {call})
check(nilchan.statistics()["receivers_waiting"] == 0, "nothing parks on nilchan")
print("intact")
""",
        settle=0.3,
    )
