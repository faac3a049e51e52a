"""Tests for the live view, ``gopool.watch``: both modes captured, and ``python -m gopool --live``.

A terminal is faked with an ``io.StringIO`` whose ``isatty()`` is True (and,
for the demo, with a real pseudo-terminal from ``pty``); the ANSI redraw is
checked by replaying it: each frame must move the cursor up exactly as many
lines as the frame before it drew. Jobs that must stay running wait on an
``Event`` the test sets. Nothing here is a port: Go has no such view.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from conftest import DEADLINE, Gate, until
from test_examples import ROOT, checkout_env

from gopool.pools import Pool, PoolStats, WorkerStats
from gopool.watch import Watch, render_frame, render_line, watch

pytestmark = pytest.mark.timeout(60)

ERASE = re.compile(r"\x1b\[(\d+)A\r\x1b\[J")
"""What a redraw starts with: cursor up over the previous frame, then erase below."""

PLAIN = re.compile(
    r"(?P<pool>\w+) (?P<state>new|running|closing|closed|cancelled): "
    r"completed (?P<done>\d+)/(?P<submitted>\d+)(, failed \d+)?(, cancelled \d+)?, "
    r"\d+\.\d jobs/s, p50 \S+( \S+)?, p99 \S+( \S+)?, \d+/\d+ workers busy(, \d+ STALLED)?"
)
"""One line of the plain (not a terminal) view."""


class FakeTTY(io.StringIO):
    """A captured terminal."""

    def isatty(self) -> bool:
        return True


def frames(text: str, *, written: int = 0) -> list[str]:
    """Split captured terminal output at each redraw, checking each redraw's cursor move.

    Every redraw must move up exactly the number of lines the frame before
    it drew. Lines written through ``Watch.write`` (``written`` of them in
    all) come out at the start of a redraw, above the frame, and stay: the
    next redraw moves up over the frame only.
    """
    parts = ERASE.split(text)
    out = [parts[0]]
    above = 0
    for up, body in zip(parts[1::2], parts[2::2], strict=True):
        previous = out[-1]
        assert previous.endswith("\n")
        assert 0 < int(up) <= previous.count("\n"), (up, previous)
        above += previous.count("\n") - int(up)
        out.append(body)
    assert above == written, f"{above} lines left above the frames, {written} written"
    return out


def stats(**kw: Any) -> PoolStats:
    base: dict[str, Any] = {
        "pool": "Pool",
        "state": "running",
        "submitted": 50,
        "queued": 12,
        "in_flight": 3,
        "completed": 30,
        "failed": 0,
        "cancelled": 0,
        "workers": 4,
        "throughput": 12.0,
        "latency_p50": 0.1,
        "latency_p95": 0.3,
        "latency_p99": 0.5,
        "per_worker": (
            WorkerStats(1, "goroutine-1 [_work]", "27", 1.2, 1.2, False, "running"),
            WorkerStats(2, "goroutine-2 [_work]", None, 0.0, 0.0, False, "idle"),
            WorkerStats(3, "goroutine-3 [_work]", "3", 7.5, 6.0, True, "stalled"),
            WorkerStats(4, "goroutine-4 [_work]", "9", 0.2, 0.0, False, "waiting"),
        ),
        "stall_after": 5.0,
        "elapsed": 3.25,
    }
    base.update(kw)
    return PoolStats(**base)


# -- rendering --


def test_plain_line() -> None:
    line = render_line(stats())
    assert line == (
        "Pool running: completed 30/50, 12.0 jobs/s, p50 0.10 s, p99 0.50 s, "
        "3/4 workers busy, 1 STALLED"
    )
    assert PLAIN.fullmatch(line)
    quiet = render_line(stats(per_worker=(), latency_p50=None, latency_p99=None, failed=2))
    assert quiet == (
        "Pool running: completed 30/50, failed 2, 12.0 jobs/s, p50 -, p99 -, 0/0 workers busy"
    )
    assert PLAIN.fullmatch(quiet)


def test_terminal_frame() -> None:
    lines = render_frame(stats(), width=100, unicode=False)
    assert lines[0].startswith("Pool running [")
    assert "] completed 30/50   60%  3.2 s" in lines[0]
    bar = lines[0][lines[0].index("[") + 1 : lines[0].index("]")]
    assert set(bar) == {"#", "-"} and bar.count("#") == math.floor(len(bar) * 0.6)
    assert lines[1] == (
        "  12.0 jobs/s | p50 0.10 s p95 0.30 s p99 0.50 s | queued 12 | busy 3/4 | 1 STALLED"
    )
    assert lines[2:] == [
        "  worker 1   job 27 for 1.2 s",
        "  worker 2   idle",
        "  worker 3   STALLED job 3 for 7.5 s (no heartbeat for 6.0 s)",
        "  worker 4   job 9 waiting for its turn (0.20 s)",
    ]
    colored = render_frame(stats(), width=100, color=True)
    assert "\x1b[1;31mSTALLED\x1b[0m job 3" in colored[4]
    assert "\u2588" in colored[0]


def test_terminal_frame_fits_the_width_and_sums_up_many_workers() -> None:
    many = tuple(
        WorkerStats(i, f"w{i}", None, 0.0, 0.0, False, "idle")
        if i % 2
        else WorkerStats(i, f"w{i}", str(i), 0.5, 0.5, False, "running")
        for i in range(1, 41)
    )
    lines = render_frame(stats(per_worker=many), width=50)
    assert all(len(line) <= 49 for line in lines)
    assert len(lines) == 2 + 16
    assert lines[-1].startswith("  ... 25 more workers: ")
    # Workers 16 to 40 are summed up: 13 of them even (running), 12 odd (idle).
    assert lines[-1] == "  ... 25 more workers: 12 idle, 13 running"


# -- the view, captured --


def run_watched(file: io.StringIO, n: int = 12, interval: float = 0.02) -> tuple[Watch, PoolStats]:
    """A pool of n jobs held on a gate for several intervals, watched on ``file``."""
    gate = Gate()
    pool = Pool(3, gate, buffer=n)
    w = watch(pool, file=file, interval=interval)
    pool.start()
    for i in range(n):
        pool.submit(i)
    until(lambda: gate.started == 3, "three jobs running")
    time.sleep(interval * 6)
    gate.open()
    for _ in range(n):
        pool.results().recv()
    pool.close()
    return w, w.stop()


def test_terminal_view_redraws_in_place_and_ends_with_the_final_frame() -> None:
    out = FakeTTY()
    w, final = run_watched(out)
    assert w.stopped
    assert (final.completed, final.submitted, final.state) == (12, 12, "closed")
    text = out.getvalue()
    shown = frames(text)
    assert len(shown) >= 3  # a first frame, updates while the jobs were held, the final one
    assert any("worker 1   job " in f for f in shown), "no frame showed a busy worker"
    last = shown[-1].splitlines()
    assert last[0].startswith("Pool closed [") and "completed 12/12  100%" in last[0]
    assert "\x1b[" not in shown[-1]
    assert text.endswith("\n")


def test_plain_view_prints_lines_and_a_final_one() -> None:
    out = io.StringIO()
    _, final = run_watched(out)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert len(lines) >= 2
    for line in lines:
        assert PLAIN.fullmatch(line), line
    assert lines[-1].startswith("Pool closed: completed 12/12, ")
    assert final.completed == final.submitted == 12
    assert any(" 3/3 workers busy" in line for line in lines)
    for a, b in itertools.pairwise(lines):
        assert a != b or b == lines[-1]  # no repeated line but, possibly, the final one


def test_write_goes_above_the_frame() -> None:
    out = FakeTTY()
    gate = Gate()
    pool = Pool(1, gate).start()
    w = watch(pool, file=out, interval=0.01)
    until(lambda: out.getvalue().count("\n") >= 3, "a first frame")
    w.write("hello ")
    w.write("world\npartial")
    pool.submit(1)
    gate.open()
    pool.results().recv()
    pool.close()
    w.stop()
    text = out.getvalue()
    # The line came out whole, at the top of a frame, and the partial one only at the end.
    holder = next(f for f in frames(text, written=1) if "hello" in f)
    assert holder.startswith("hello world\nPool ")
    assert text.endswith("partial")
    assert text.count("hello") == 1


def test_stop_is_idempotent_and_a_context_manager() -> None:
    pool = Pool(2, abs)
    out = io.StringIO()
    with watch(pool, file=out, interval=5.0) as w:
        assert sum(pool.map(range(-5, 0))) == 15
    assert w.stopped
    first = w.stop()
    assert w.stop() is first
    assert first.completed == 5
    assert "stopped" in repr(w)


def test_the_view_stops_by_itself_when_the_pool_ends() -> None:
    pool = Pool(2, abs).start()
    out = io.StringIO()
    w = watch(pool, file=out, interval=0.01)
    pool.close()
    until(lambda: w.stopped, "the view to stop")
    assert out.getvalue().splitlines()[-1].startswith("Pool closed: completed 0/0")


def test_the_view_draws_on_a_ticker_not_in_a_loop() -> None:
    """Over 0.3 s at 0.1 s a tick, a handful of frames, not thousands."""
    gate = Gate()
    pool = Pool(1, gate).start()
    pool.submit(1)
    out = FakeTTY()
    w = watch(pool, file=out, interval=0.1)
    time.sleep(0.3)
    gate.open()
    pool.results().recv()
    pool.close()
    w.stop()
    assert 2 <= len(frames(out.getvalue())) <= 10


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="not a pool"):
        watch(object())
    pool = Pool(1, abs)
    with pytest.raises(ValueError, match="interval"):
        watch(pool, interval=0)
    with pytest.raises(ValueError, match="interval"):
        watch(pool, interval=-1.0)
    with pytest.raises(TypeError, match="interval"):
        watch(pool, interval="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file"):
        watch(pool, file=object())  # type: ignore[arg-type]
    pool.close()


def test_stop_from_a_thread_that_blocks_is_interruptible_by_design() -> None:
    """stop() waits on a channel: another thread calling it while the view draws is fine."""
    pool = Pool(2, abs)
    w = watch(pool, file=io.StringIO(), interval=0.01)
    results: list[PoolStats] = []
    threads = [threading.Thread(target=lambda: results.append(w.stop())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert len(results) == 4 and all(r is results[0] for r in results)
    pool.close()


# -- python -m gopool --live --


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gopool", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=checkout_env(),
    )


def test_demo_live_in_a_pipe_prints_plain_lines() -> None:
    proc = demo("dynamic", "--live")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert "\x1b" not in proc.stdout
    assert lines[0] == (
        "== dynamic: Dynamic worker pool (gopool/_examples/dynamic.py, watched live)"
    )
    views = [line for line in lines if line.startswith("DynamicPool ")]
    assert len(views) >= 3
    for line in views:
        assert PLAIN.fullmatch(line), line
    assert views[-1].startswith("DynamicPool closed: completed 50/50, ")
    assert sorted(line for line in lines if line.startswith("Result: ")) == sorted(
        f"Result: {2 * i}" for i in range(50)
    )


def test_demo_live_says_when_there_is_nothing_to_watch() -> None:
    proc = demo("error_handling", "--live")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "(no pool object in this program: nothing to watch)"
    assert any(line.startswith("Summary: ") for line in lines)


def in_terminal(*args: str, stderr_too: bool = False) -> tuple[str, str]:
    """Run ``python *args`` on a real pseudo-terminal of 40 rows of 120 columns until it ends.

    Returns what the terminal received (``\r\n`` made ``\n``) and the
    child's stderr when it went to a pipe (``""`` with ``stderr_too``,
    which sends it to the terminal as well). Fails unless it exits 0.
    """
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # A new pseudo-terminal has 0 x 0.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=follower,
            stdout=follower,
            stderr=follower if stderr_too else subprocess.PIPE,
            cwd=ROOT,
            env={k: v for k, v in checkout_env().items() if k not in ("COLUMNS", "LINES")},
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(DEADLINE) == 0
        err = proc.stderr.read().decode() if proc.stderr is not None else ""
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return b"".join(chunks).decode().replace("\r\n", "\n"), err


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_demo_live_in_a_terminal_redraws_in_place() -> None:
    """Under a real pseudo-terminal: frames redrawn in place, workers shown, exit 0."""
    text, err = in_terminal("-m", "gopool", "dynamic", "--live")
    assert err == ""
    assert ERASE.search(text), "no in-place redraw"
    assert re.search(r"worker \d+ +job \d+ for ", text), "no busy worker shown"
    tail = ERASE.split(text)[-1]
    assert "DynamicPool closed [" in tail and "completed 50/50  100%" in tail
    shown = screen(text)
    assert "== dynamic: Dynamic worker pool (gopool/_examples/dynamic.py, watched live)" in shown
    assert not [line for line in shown if line.startswith("DynamicPool ") and "closed" not in line]


# -- other output to the terminal while a view is live --


def screen(text: str) -> list[str]:
    """The lines a terminal shows after receiving ``text`` (no scrolling limit).

    Applies what the views send: newline, carriage return, cursor up
    (``ESC[nA``) and erase below (``ESC[J``); colours (``ESC[...m``) are
    dropped. A line left over from an earlier frame stays, as on a screen.
    """
    lines = [""]
    row = col = 0
    for token in re.split(r"(\x1b\[[\d;]*[A-Za-z]|\r|\n)", text):
        if token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            col = 0
        elif m := re.fullmatch(r"\x1b\[(\d*)A", token):
            row -= int(m.group(1) or 1)
            assert row >= 0, "cursor moved above the first line"
        elif token == "\x1b[J":
            del lines[row + 1 :]
            lines[row] = lines[row][:col]
        elif token.startswith("\x1b["):
            pass  # a colour
        elif token:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    if lines[-1] == "":
        lines.pop()  # the line the cursor waits on
    return lines


def test_screen_shows_a_stale_line_when_something_writes_below_a_frame() -> None:
    """The emulator itself: text written under a frame is erased by the next redraw,
    and the frame's first line stays behind (what the stand-in streams prevent)."""
    text = "frame 1\nframe 2\n" + "warning\n" + "\x1b[2A\r\x1b[J" + "frame 3\nframe 4\n"
    assert screen(text) == ["frame 1", "frame 3", "frame 4"]


def stalled_pool(term: FakeTTY) -> tuple[Watch, Gate, Pool[int, int]]:
    """A pool whose one job stalls (``stall_after=0.05``), watched on the fake terminal."""
    gate = Gate()
    pool: Pool[int, int] = Pool(1, gate, stall_after=0.05)
    w = watch(pool, file=term, interval=0.01)
    pool.start()
    pool.submit(1)
    until(lambda: "stalled: on job 1" in term.getvalue(), "the stall warning")
    time.sleep(0.05)  # a few more frames below it
    gate.open()
    pool.results().recv()
    pool.close()
    w.stop()
    return w, gate, pool


@pytest.mark.parametrize("logging_config", ["none", "handler"])
def test_a_stall_warning_goes_above_the_terminal_view(
    monkeypatch: pytest.MonkeyPatch, logging_config: str
) -> None:
    """The ``gopool`` logger's warning, to stderr on the same terminal, lands above the view
    and stays; no line of an old frame is left on the screen. ``none``: no logging set up
    (logging's last-resort handler writes to ``sys.stderr``); ``handler``: a
    ``StreamHandler(sys.stderr)`` made before the view starts."""
    term = FakeTTY()
    monkeypatch.setattr(sys, "stderr", term)
    logger = logging.getLogger("gopool")
    if logging_config == "none":
        monkeypatch.setattr(logger, "propagate", False)  # away from pytest's own handlers
        monkeypatch.setattr(logger, "handlers", [])
    else:
        handler = logging.StreamHandler(sys.stderr)
        logger.addHandler(handler)
        monkeypatch.setattr(logger, "propagate", False)
    try:
        stalled_pool(term)
    finally:
        if logging_config == "handler":
            logger.removeHandler(handler)
            assert handler.stream is term, "the handler's stream was not given back"
    assert sys.stderr is term, "sys.stderr was not given back"
    shown = screen(term.getvalue())
    warnings = [line for line in shown if "stalled: on job 1" in line]
    assert len(warnings) == 1, shown
    assert shown.index(warnings[0]) == 0, shown  # above every frame, and never erased
    final = shown[1:]
    assert final[0].startswith("Pool closed [") and "completed 1/1" in final[0], shown
    assert [line for line in final if line.startswith("Pool ")] == [final[0]], shown


def test_print_goes_above_the_view_and_stdout_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    term = FakeTTY()
    monkeypatch.setattr(sys, "stdout", term)
    gate = Gate()
    pool = Pool(1, gate).start()
    w = watch(pool, interval=0.01)
    until(lambda: term.getvalue().count("\n") >= 3, "a first frame")
    print("hello", "world")
    print("partial", end="")
    pool.submit(1)
    gate.open()
    pool.results().recv()
    pool.close()
    w.stop()
    assert sys.stdout is term
    shown = screen(term.getvalue())
    assert shown[0] == "hello world"
    assert shown[1].startswith("Pool closed [")
    assert shown[-1] == "partial"  # held back until the view stopped, then written
    assert sum(line.startswith("Pool ") for line in shown) == 1


def test_a_view_in_a_pipe_leaves_the_streams_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    term = FakeTTY()
    monkeypatch.setattr(sys, "stdout", term)
    pool = Pool(1, abs).start()
    w = watch(pool, file=io.StringIO(), interval=0.01)
    assert sys.stdout is term
    pool.close()
    w.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_a_stall_warning_in_a_real_terminal() -> None:
    """A program with no logging set up, stdout and stderr on one pseudo-terminal: the stall
    warning stays on the screen above the final frame, with nothing of an old frame left."""
    program = textwrap.dedent(
        """
        import threading
        import gopool

        release = threading.Event()
        pool = gopool.Pool(2, lambda x: release.wait(5) and x, stall_after=0.2)
        with gopool.watch(pool, interval=0.02):
            pool.start()
            pool.submit(1)
            pool.submit(2)
            threading.Timer(0.6, release.set).start()
            pool.close()
        print("done")
        """
    )
    text, _ = in_terminal("-c", program, stderr_too=True)
    shown = screen(text)
    warnings = [line for line in shown if " stalled: on job " in line]
    assert len(warnings) == 2, shown
    assert shown[:2] == warnings, shown
    assert shown[2].startswith("Pool closed [") and "completed 2/2  100%" in shown[2], shown
    assert shown[-1] == "done"
    assert [line for line in shown if line.startswith("Pool ")] == [shown[2]], shown
