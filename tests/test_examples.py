"""The article's six programs, ported (examples/*.py): each run with --fast in a subprocess.

The Go programs' output varies between runs in order, timing and (for the
error-handling one) which tasks fail; what holds every time is the shape
of each line and the counts, and those are what these tests check. The
checks are shared with tests/test_demo.py, which runs the same programs
through ``python -m gopool``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
FAST = 0.05  # gopool._examples.FAST, restated: the tests check the scaling, not reuse it


def checkout_env() -> dict[str, str]:
    """The environment for a subprocess that must import gopool from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_example(name: str, *args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
        env=checkout_env(),
    )
    assert proc.returncode == 0, proc.stderr
    # A goroutine's exception is reported on stderr by threading.excepthook.
    assert proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def matches(pattern: str, lines: list[str]) -> list[tuple[str, ...]]:
    """The groups of every line that matches ``pattern`` in full, in order."""
    rx = re.compile(pattern)
    return [m.groups() for line in lines if (m := rx.fullmatch(line))]


def assert_only(lines: list[str], *patterns: str) -> None:
    for line in lines:
        assert any(re.fullmatch(p, line) for p in patterns), f"unexpected line {line!r}"


# -- the checks, one per program --


def check_basic(lines: list[str]) -> None:
    processing = r"Worker (\d+) processing job (\d+)"
    result = r"Result: (\d+)"
    assert_only(lines, processing, result)
    jobs = matches(processing, lines)
    results = matches(result, lines)
    assert len(jobs) == 10
    assert {int(w) for w, _ in jobs} <= {1, 2, 3}
    assert sorted(int(j) for _, j in jobs) == list(range(1, 11))
    assert sorted(int(r) for (r,) in results) == list(range(2, 21, 2))
    # A result is printed only after its job was taken.
    taken = {int(j): i for i, line in enumerate(lines) for _, j in matches(processing, [line])}
    for i, line in enumerate(lines):
        for (r,) in matches(result, [line]):
            assert taken[int(r) // 2] < i, f"{line!r} before its job was taken"


def check_struct_pool(lines: list[str]) -> None:
    line = r"Job (\d+): Processed: data-(\d+)"
    assert_only(lines, line)
    jobs = matches(line, lines)
    assert len(jobs) == 10
    assert all(i == payload for i, payload in jobs)
    assert sorted(int(i) for i, _ in jobs) == list(range(10))


def check_generic(lines: list[str]) -> None:
    assert_only(lines, r"Length: \d+")
    lengths = Counter(int(n) for (n,) in matches(r"Length: (\d+)", lines))
    assert lengths == Counter({5: 2, 3: 3})  # hello world foo bar baz


def check_error_handling(lines: list[str]) -> None:
    ok_line = r"Task (\d+): Task (\d+) completed"
    failed_line = r"Task (\d+) failed: random processing error"
    assert lines[-2] == "", "the summary follows a blank line"
    summary = matches(r"Summary: (\d+) succeeded, (\d+) failed", lines[-1:])
    assert summary, f"last line {lines[-1]!r} is not the summary"
    tasks = lines[:-2]
    assert_only(tasks, ok_line, failed_line)
    succeeded = matches(ok_line, tasks)
    failed = matches(failed_line, tasks)
    assert all(a == b for a, b in succeeded)
    ids = [int(a) for a, _ in succeeded] + [int(a) for (a,) in failed]
    assert sorted(ids) == list(range(20))
    assert summary[0] == (str(len(succeeded)), str(len(failed)))


def check_dynamic(lines: list[str]) -> None:
    result = r"Result: (\d+)"
    added = r"Added worker, total: (\d+)"
    assert lines[0] == "Workers: 2"
    assert_only(lines[1:], result, added)
    # A worker is added at jobs 0, 10, 20, 30 and 40: from 2 up to 7 (max 10).
    assert [int(n) for (n,) in matches(added, lines)] == [3, 4, 5, 6, 7]
    # All 50, not the 5 to 15 the Go program prints (its Stop drops queued jobs).
    assert sorted(int(r) for (r,) in matches(result, lines)) == list(range(0, 100, 2))


def check_rate_limited(lines: list[str], interval: float = 2.0 * FAST / 5) -> None:
    processing = r"Worker (\d+) processing job (\d+) at (\d\d):(\d\d):(\d\d)\.(\d\d\d)"
    result = r"Result: (\d+)"
    assert_only(lines, processing, result)
    jobs = matches(processing, lines)
    assert len(jobs) == 10
    # The pool's numbers for its five workers, as the live view shows them (Go: 0 to 4).
    assert {int(j[0]) for j in jobs} <= set(range(1, 6))
    assert sorted(int(j[1]) for j in jobs) == list(range(10))
    assert sorted(int(r) for (r,) in matches(result, lines)) == list(range(0, 20, 2))
    ms = [((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f) for *_, h, m, s, f in jobs]
    ms = [t + 86_400_000 if t < ms[0] - 43_200_000 else t for t in ms]  # run across midnight
    assert ms == sorted(ms), "the printed times go backwards"
    # One start per interval for the pool in total (the first one is free).
    # A time is stamped when its line is printed, a little after its start,
    # so only a delayed first line can make the average look short: half the
    # interval still tells a limited pool from an unlimited one (ten lines
    # in a few ms). And not wildly slower than the interval (a loaded machine).
    average = (ms[-1] - ms[0]) / 9 / 1000
    assert average >= interval * 0.5, f"{average:.4f}s between starts"
    assert average <= interval * 25, f"{average:.4f}s between starts"


CHECKS: dict[str, Callable[[list[str]], None]] = {
    "basic": check_basic,
    "struct_pool": check_struct_pool,
    "generic": check_generic,
    "error_handling": check_error_handling,
    "dynamic": check_dynamic,
    "rate_limited": check_rate_limited,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_example_fast(name: str) -> None:
    """Each example, run standalone with --fast, prints the Go program's lines."""
    CHECKS[name](run_example(name, "--fast"))


def test_examples_credit_the_article() -> None:
    """Each example and ported module names the article and its author, and says it is a port."""
    for name in CHECKS:
        for path in (
            ROOT / "examples" / f"{name}.py",
            ROOT / "gopool" / "_examples" / f"{name}.py",
        ):
            text = path.read_text()
            assert "How to Implement Worker Pools in Go" in text, path
            assert "nawazdhandala" in text, path
            assert "port" in text.split('"""')[1], path


def test_help_names_fast() -> None:
    """``--help`` documents --fast, and a bad option fails with argparse's usage error."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "basic.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=checkout_env(),
    )
    assert proc.returncode == 0 and "--fast" in proc.stdout
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "basic.py"), "--fastest"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=checkout_env(),
    )
    assert proc.returncode == 2 and "--fastest" in proc.stderr


def test_fast_shrinks_durations_at_least_tenfold(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --fast the Go durations hold (10 one-second jobs on 3 workers: >= 4 s);
    with it, the clock every example's sleeps and intervals are written in runs FAST times."""
    from gopool._examples import clock, run

    assert FAST <= 0.1
    start = time.monotonic()
    check_basic(run_example("basic"))
    assert time.monotonic() - start >= 4.0

    try:
        assert run("error_handling", ["--fast"]) == 0
        assert clock.second == FAST
        assert clock.millisecond == FAST / 1000
    finally:
        clock.second = 1.0
    check_error_handling(capsys.readouterr().out.splitlines())
