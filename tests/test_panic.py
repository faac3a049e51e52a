"""Goroutine panics, in child interpreters: each mode, each kind of main thread.

Not ports: Go's runtime ends the program at an unrecovered panic (exit
status 2, ``runtime/panic.go``); gopool's ``"exit"`` mode does that, and
its default ``"raise"`` mode gives the main thread a ``GoroutineError``
instead (SPEC "Goroutines"). Each case runs a script in which a goroutine
raises 0.3 s after the main thread has blocked (or started running), and
checks how the process ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """\
import itertools, sys, threading, time
import gopool
from gopool import Chan, GoroutineError, Pool, WaitGroup, go, select

PANIC_AT = [0.0]


def boom(delay=0.3):
    time.sleep(delay)
    PANIC_AT[0] = time.monotonic()
    raise ValueError("boom from goroutine")


def main():
{body}


try:
    main()
except GoroutineError as e:
    late = time.monotonic() - PANIC_AT[0]
    print("GoroutineError", type(e.__cause__).__name__, e.__cause__, f"late={{late:.3f}}")
    print("message", e)
"""

# How the main thread waits while the goroutine panics; each starts the goroutine.
CASES = {
    "recv": "go(boom); Chan().recv()",
    "select": "go(boom); select(Chan().recv, Chan().recv)",
    "wg_wait": "wg = WaitGroup(); wg.go(boom); wg.wait()",
    "results": """
        pool = Pool(2, lambda x: x)
        pool.start()
        go(boom)
        for r in pool.results(): pass""",
    "close": """
        pool = Pool(1, lambda x: threading.Event().wait(5))
        pool.submit(1)
        pool.start()
        go(boom)
        pool.close()""",
    "map": """
        pool = Pool(2, lambda x: time.sleep(0.05))
        go(boom)
        for r in pool.map(itertools.count()): pass""",
    "sleep": "go(boom); gopool.sleep(30)",
    "loop": """
        go(boom)
        x = 0
        while True:
            x += 1""",
    "mutex": """
        mu = gopool.sync.Mutex()
        mu.lock()
        go(boom)
        mu.lock()""",
}

# Blocked outside gopool, or finished: the process ends with status 2 about 1 s later.
OUTSIDE = {
    "event": "go(boom); threading.Event().wait()",
    "finished": "threading.Thread(target=time.sleep, args=(20,)).start(); go(boom)",
}


def _run(body: str, mode: str | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    body = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    env = {k: v for k, v in os.environ.items() if k != "GOPOOL_PANIC"}
    env["PYTHONPATH"] = str(ROOT)
    if mode is not None:
        env["GOPOOL_PANIC"] = mode
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE.format(body=body)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )
    return proc, time.monotonic() - start


def _needs(name: str) -> None:
    if name == "mutex":
        import gopool.sync

        if not hasattr(gopool.sync, "Mutex"):
            pytest.skip("gopool.sync.Mutex is not there yet")


@pytest.mark.parametrize("case", list(CASES))
def test_raise_reaches_the_main_thread(case: str) -> None:
    """Default mode: the main thread gets GoroutineError, original as cause, well before 1 s."""
    _needs(case)
    proc, _ = _run(CASES[case])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("GoroutineError ValueError boom from goroutine late="), proc.stdout
    late = float(lines[0].rsplit("=", 1)[1])
    # 0.1 s on an idle machine; the bound leaves room for load, below the 1 s watchdog.
    assert late < 0.9, proc.stdout
    assert "[boom]" in lines[1] and "ValueError: boom from goroutine" in lines[1], proc.stdout
    # Reported too, as threading reports a thread's exception.
    assert "ValueError: boom from goroutine" in proc.stderr


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_raise_blocked_elsewhere_ends_with_status_2(case: str) -> None:
    """Blocked outside gopool, or finished: status 2 about a second after the panic.

    "finished" is the case where, from Python 3.12 on, no new thread may start
    (the interpreter is shutting down): the watchdog runs in the goroutine.
    """
    proc, elapsed = _run(OUTSIDE[case])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "ValueError: boom from goroutine" in proc.stderr
    assert "did not take the goroutine panic" in proc.stderr
    assert elapsed < 15, elapsed  # far below the 20 s the plain thread would keep it alive


@pytest.mark.parametrize("case", list(CASES) + list(OUTSIDE))
def test_exit_mode_ends_every_case_with_status_2(case: str) -> None:
    """GOPOOL_PANIC=exit: Go's behaviour, report then status 2, the main thread never resumes."""
    _needs(case)
    proc, elapsed = _run({**CASES, **OUTSIDE}[case], mode="exit")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "ValueError: boom from goroutine" in proc.stderr
    assert "GoroutineError" not in proc.stdout
    assert elapsed < 15, elapsed


def test_exit_mode_flushes_stdout() -> None:
    """What the program printed before the panic is not lost by os._exit."""
    proc, _ = _run('print("before", end=""); go(boom); Chan().recv()', mode="exit")
    assert proc.returncode == 2
    assert proc.stdout == "before"


def test_report_mode_never_ends_the_process() -> None:
    """GOPOOL_PANIC=report: the report only; the main thread carries on."""
    body = """
        go(boom, 0.0)
        i, _ = select(Chan().recv, gopool.after(1.0).recv)
        print("survived", i)"""
    proc, _ = _run(body, mode="report")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "survived 1\n"
    assert "ValueError: boom from goroutine" in proc.stderr


def test_set_panic_mode_overrides_the_environment() -> None:
    proc, _ = _run(
        'gopool.set_panic_mode("report"); go(boom, 0.0); gopool.sleep(1.0); print("ok")', "exit"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_set_panic_mode_rejects_bad_modes() -> None:
    from gopool import set_panic_mode
    from gopool.chan import set_panic_mode as from_chan

    assert from_chan is set_panic_mode
    with pytest.raises(ValueError, match="unknown mode 'crash'"):
        set_panic_mode("crash")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a str"):
        set_panic_mode(2)  # type: ignore[arg-type]


def test_unknown_environment_value_warns_and_raises_by_default() -> None:
    proc, _ = _run("go(boom); Chan().recv()", mode="crash")
    assert proc.returncode == 0, proc.stderr
    assert "RuntimeWarning: GOPOOL_PANIC='crash' ignored" in proc.stderr
    assert proc.stdout.startswith("GoroutineError ValueError")


def test_later_panics_are_attached_to_the_first() -> None:
    """Only the first is raised; the others are reported and listed in ``others``."""
    body = """
        second = threading.Event()
        def later():
            second.wait()
            raise KeyError("second")
        go(later)
        go(boom)
        try:
            Chan().recv()
        except GoroutineError as e:
            second.set()
            gopool.sleep(0.5)
            print("others", [repr(o) for o in e.others])
            raise"""
    proc, _ = _run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("others [\"KeyError('second')\"]\nGoroutineError ValueError")
    assert "KeyError: 'second'" in proc.stderr


@pytest.mark.parametrize("mode", ["raise", "exit", "report"])
def test_system_exit_in_a_goroutine_counts_and_is_printed(mode: str) -> None:
    """threading drops a thread's SystemExit silently; a goroutine's is a panic."""
    body = """
        def quit():
            time.sleep(0.3)
            sys.exit(7)
        go(quit)
        i, _ = select(Chan().recv, gopool.after(2.0).recv)
        print("timed out", i)"""
    proc, _ = _run(body, mode=mode)
    assert "SystemExit: 7" in proc.stderr, proc.stderr
    if mode == "raise":
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("GoroutineError SystemExit 7 "), proc.stdout
    elif mode == "exit":
        assert proc.returncode == 2
    else:
        assert (proc.returncode, proc.stdout) == (0, "timed out 1\n")


def test_waitgroup_go_skips_done_when_fn_raises() -> None:
    """Go 1.25's WaitGroup.Go: a panicking f does not call Done, so Wait sees the panic."""
    body = """
        gopool.set_panic_mode("report")
        wg = WaitGroup()
        wg.go(boom, 0.0)
        print(wg.wait(timeout=0.5), wg.statistics()["counter"])
        ok = WaitGroup()
        ok.go(time.sleep, 0.0)
        print(ok.wait(timeout=5))"""
    proc, _ = _run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False 1\nTrue\n"


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_after_func_that_raises_is_a_panic(mode: str) -> None:
    body = """
        def fire():
            PANIC_AT[0] = time.monotonic()
            raise ValueError("boom from goroutine")
        gopool.after_func(0.3, fire)
        gopool.sleep(30)"""
    proc, _ = _run(body, mode=mode)
    if mode == "raise":
        assert proc.stdout.startswith("GoroutineError ValueError boom from goroutine"), proc.stderr
    else:
        assert proc.returncode == 2


def test_context_after_func_that_raises_is_a_panic() -> None:
    body = """
        from gopool.context import after_func, background, with_cancel
        ctx, cancel = with_cancel(background())
        def fire():
            PANIC_AT[0] = time.monotonic()
            raise ValueError("boom from goroutine")
        after_func(ctx, fire)
        gopool.after_func(0.3, cancel)
        Chan().recv()"""
    proc, _ = _run(body)
    assert proc.stdout.startswith("GoroutineError ValueError boom from goroutine"), proc.stderr


def test_recorded_exceptions_are_not_panics() -> None:
    """A pool's, an errgroup's and a once_* function's exceptions are recorded, not panics."""
    body = """
        from gopool import errgroup, once_value
        pool = Pool(2, lambda s: int(s))
        try:
            print(list(pool.map(["1", "x"])))
        except ExceptionGroup as eg:
            print("pool", repr(eg.exceptions[0]))
        g = errgroup.Group()
        g.go(int, "y")
        try:
            g.wait()
        except ValueError as e:
            print("errgroup", e)
        f = once_value(lambda: 1 / 0)
        for _ in range(2):
            try:
                f()
            except ZeroDivisionError:
                print("once")
        gopool.sleep(0.5)
        print("done")"""
    proc, _ = _run(body)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("pool ValueError(") and lines[1].startswith(
        "errgroup invalid literal"
    )
    assert lines[2:] == ["once", "once", "done"]


def test_a_failing_feeder_ends_the_program_instead_of_hanging() -> None:
    """A pool fed by a goroutine that fails: iterating results() ends with GoroutineError."""
    body = """
        pool = Pool(2, len)
        def feed():
            for w in ["hello", "world"]:
                pool.submit(w)
            PANIC_AT[0] = time.monotonic()
            raise ValueError("boom from goroutine")  # close() is never reached
            pool.close()
        pool.start()
        go(feed)
        for n in pool.results():
            print(n)"""
    proc, _ = _run(body)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2].startswith("GoroutineError ValueError boom"), proc.stdout
