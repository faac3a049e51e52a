"""Go by Example's concurrency chapter, ported (examples/gobyexample/), against Go's output.

Each test runs one program in a child interpreter (``sys.executable``, from
the repository root) and checks what it prints against what the Go
program prints on its Go by Example page: line for line where Go's output
is fixed; where Go's scheduler or clock decides, by the rules Go keeps
(the same lines in any order, each goroutine's own lines in order, values
within the set Go could print, timings within bounds). The ports write
every line at once, as Go's unbuffered ``os.Stdout`` does, so each line is
timed as it arrives; a time bound only ever allows more than the program
needs, since a loaded machine only delays lines. Go's outputs are quoted
from the ``.sh`` file beside each ``.go`` file in mmcgrana/gobyexample.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
PORTS = ROOT / "examples" / "gobyexample"
KILL_AFTER = 60.0  # seconds: a port still running then is stuck (each needs at most 5)

PAGES = {
    "goroutines": "goroutines",
    "channels": "channels",
    "channel_buffering": "channel-buffering",
    "channel_synchronization": "channel-synchronization",
    "channel_directions": "channel-directions",
    "select_": "select",
    "timeouts": "timeouts",
    "non_blocking_channel_operations": "non-blocking-channel-operations",
    "closing_channels": "closing-channels",
    "range_over_channels": "range-over-channels",
    "timers": "timers",
    "tickers": "tickers",
    "worker_pools": "worker-pools",
    "waitgroups": "waitgroups",
    "rate_limiting": "rate-limiting",
    "atomic_counters": "atomic-counters",
    "mutexes": "mutexes",
    "stateful_goroutines": "stateful-goroutines",
}
"""Every port (file name without ``.py``) and the Go by Example page it ports."""


@dataclass(frozen=True)
class Run:
    """What one run of a port printed, and when."""

    lines: list[str]
    at: list[float]  # seconds from the start of the child to each line's arrival
    elapsed: float  # seconds from the start of the child to its exit
    stderr: str
    returncode: int


@functools.cache
def run(name: str) -> Run:
    """Run ``examples/gobyexample/NAME.py`` once per session; kill it if stuck.

    Reads stdout line by line as the child writes it (a blocking read); the
    child's stderr goes to a file, so a chatty stderr cannot stall it.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    lines: list[str] = []
    at: list[float] = []
    with tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(PORTS / f"{name}.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        watchdog = threading.Timer(KILL_AFTER, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                at.append(time.monotonic() - start)
                lines.append(line.removesuffix("\n"))
            returncode = proc.wait()
            elapsed = time.monotonic() - start
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read()
    return Run(lines, at, elapsed, stderr, returncode)


def output(name: str) -> Run:
    """The run of ``name``, which must have exited 0 (else the test fails with its stderr)."""
    r = run(name)
    assert r.returncode == 0, f"{name} exited {r.returncode}\n{r.stderr}"
    return r


def groups(pattern: str, lines: list[str]) -> list[tuple[str, ...]]:
    """The groups of each line, which must all match ``pattern`` in full."""
    out = []
    for line in lines:
        m = re.fullmatch(pattern, line)
        assert m, f"{line!r} is not of the form {pattern!r}"
        out.append(m.groups())
    return out


GO_TIME = (
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})? [+-]\d{4} \S+"  # Go's Time.String()
    r" m=\+(\d+\.\d{9})"  # and its monotonic reading: seconds since the program started
)


# -- the programs whose output Go fixes --


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("channels", ["ping"]),
        ("channel_buffering", ["buffered", "channel"]),
        ("channel_directions", ["passed message"]),
        ("range_over_channels", ["one", "two"]),
        (
            "non_blocking_channel_operations",
            ["no message received", "no message sent", "no activity"],
        ),
    ],
)
def test_fixed_output(name: str, expected: list[str]) -> None:
    """Go by Example: Channels, Channel Buffering, Channel Directions, Range over
    Channels and Non-Blocking Channel Operations print exactly Go's lines."""
    assert output(name).lines == expected


def test_channel_synchronization() -> None:
    """Go by Example: Channel Synchronization: ``working...done`` on one line, the
    ``done`` a second later, and main waits for it (without the receive it
    would exit first)."""
    r = output("channel_synchronization")
    assert r.lines == ["working...done"]
    assert r.at[0] >= 1.0


def test_select() -> None:
    """Go by Example: Select: ``received one`` then ``received two``, about 2 s in
    total "since both the 1 and 2 second Sleeps execute concurrently"."""
    r = output("select_")
    assert r.lines == ["received one", "received two"]
    assert r.at[0] >= 1.0 and r.at[1] >= 2.0
    # One sleep after the other would put 2 s between the lines.
    assert r.at[1] - r.at[0] < 1.9, f"{r.at[1] - r.at[0]:.2f} s between the two"


def test_timeouts() -> None:
    """Go by Example: Timeouts: the first operation times out after 1 s, the second
    (given 3 s) succeeds after its 2 s."""
    r = output("timeouts")
    assert r.lines == ["timeout 1", "result 2"]
    assert r.at[0] >= 1.0
    assert r.at[1] >= 3.0  # the 1 s timeout, then the second call's 2 s


def test_timers() -> None:
    """Go by Example: Timers: timer 1 fires after 2 s; timer 2 is stopped before it
    fires and stays silent through the 2 s that follow."""
    r = output("timers")
    assert r.lines == ["Timer 1 fired", "Timer 2 stopped"]
    assert r.at[0] >= 2.0
    assert r.elapsed >= 4.0  # long enough that a running timer 2 would have fired


def test_atomic_counters() -> None:
    """Go by Example: Atomic Counters: 50 goroutines add 1 a thousand times each;
    "We expect to get exactly 50,000 operations"."""
    assert output("atomic_counters").lines == ["ops: 50000"]


def test_mutexes() -> None:
    """Go by Example: Mutexes: "the counters updated as expected", printed as Go
    prints a map: ``map[a:20000 b:10000]``."""
    assert output("mutexes").lines == ["map[a:20000 b:10000]"]


# -- the programs whose output Go's scheduler or clock shapes --


def test_goroutines() -> None:
    """Go by Example: Goroutines: the direct call's lines first; then the two
    goroutines' lines interleaved in any way, each goroutine's in its order;
    ``done`` last, after the 1 s wait."""
    r = output("goroutines")
    assert r.lines[:3] == ["direct : 0", "direct : 1", "direct : 2"]
    assert r.lines[-1] == "done"
    middle = r.lines[3:-1]
    assert sorted(middle) == sorted(["goroutine : 0", "goroutine : 1", "goroutine : 2", "going"])
    assert [line for line in middle if line != "going"] == [
        "goroutine : 0",
        "goroutine : 1",
        "goroutine : 2",
    ]
    assert r.at[-1] >= 1.0


def test_closing_channels() -> None:
    """Go by Example: Closing Channels: Go's nine lines. Main's lines and the
    worker's are each in order; the worker takes job j only after main sent
    it (so after "sent job j-1") and sees the close only after "sent job 3";
    the receive after the close says false, last."""
    r = output("closing_channels")
    sent = [f"sent job {j}" for j in (1, 2, 3)] + ["sent all jobs"]
    received = [f"received job {j}" for j in (1, 2, 3)] + ["received all jobs"]
    lines = r.lines
    assert lines[-1] == "received more jobs: false"
    assert sorted(lines[:-1]) == sorted(sent + received)
    assert [x for x in lines if x in sent] == sent
    assert [x for x in lines if x in received] == received
    for j in (2, 3):
        assert lines.index(f"received job {j}") > lines.index(f"sent job {j - 1}")
    assert lines.index("received all jobs") > lines.index("sent job 3")


def test_tickers() -> None:
    """Go by Example: Tickers: "the ticker should tick 3 times before we stop it",
    about every 500 ms, each tick printed as Go prints a time.Time; then
    ``Ticker stopped``, and no tick after it."""
    r = output("tickers")
    assert r.lines[-1] == "Ticker stopped"
    ticks = [float(m) for (m,) in groups(r"Tick at " + GO_TIME, r.lines[:-1])]
    assert len(ticks) == 3, r.lines
    # Ticks come on a 500 ms grid from the ticker's start; a late one is
    # stamped late, but the next keeps to the grid.
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert all(0.2 <= g <= 0.8 for g in gaps), gaps
    assert 0.4 <= (ticks[-1] - ticks[0]) / 2 <= 0.6, ticks
    assert ticks[0] >= 0.5
    assert r.at[-1] >= 1.6


def test_worker_pools() -> None:
    """Go by Example: Worker Pools: each of the 5 jobs started and finished once, by
    one of the 3 workers, a worker finishing a job before it starts the
    next; the 3 workers start jobs 1-3 before any finishes (concurrently:
    "about 2 seconds despite doing about 5 seconds of total work")."""
    r = output("worker_pools")
    events = groups(r"worker ([123]) (started |finished) job ([1-5])", r.lines)
    assert len(events) == 10
    assert sorted(job for _, what, job in events if what == "started ") == list("12345")
    assert sorted(job for _, what, job in events if what == "finished") == list("12345")
    by_worker: dict[str, list[tuple[str, str]]] = {}
    for worker, what, job in events:
        by_worker.setdefault(worker, []).append((what, job))
    for worker, seq in by_worker.items():
        assert [w for w, _ in seq] == ["started ", "finished"] * (len(seq) // 2), worker
        assert all(seq[i][1] == seq[i + 1][1] for i in range(0, len(seq), 2)), worker
    first = events[:3]
    assert {w for w, _, _ in first} == {"1", "2", "3"}, r.lines
    assert {what for _, what, _ in first} == {"started "}, r.lines
    assert {job for _, _, job in first} == {"1", "2", "3"}, r.lines
    assert r.elapsed >= 2.0  # two rounds of one-second jobs at the least


def test_waitgroups() -> None:
    """Go by Example: WaitGroups: each of the 5 workers starts and is done once, in
    an order that "is likely to be different for each invocation"; all
    start before any is done (they sleep 1 s), and the wait outlasts them."""
    r = output("waitgroups")
    events = groups(r"Worker ([1-5]) (starting|done)", r.lines)
    assert len(events) == 10
    assert [what for _, what in events] == ["starting"] * 5 + ["done"] * 5, r.lines
    assert sorted(w for w, _ in events[:5]) == list("12345")
    assert sorted(w for w, _ in events[5:]) == list("12345")
    assert r.at[5] >= 1.0


def test_rate_limiting() -> None:
    """Go by Example: Rate Limiting: the first 5 requests "handled once every ~200
    milliseconds"; of the second 5, "the first 3 immediately because of the
    burstable rate limiting, then the remaining 2 with ~200ms delays each".
    Each line ends with time.Now() as Go prints it."""
    r = output("rate_limiting")
    reqs = groups(r"request ([1-5]) " + GO_TIME, r.lines)
    assert [n for n, _ in reqs] == list("12345") * 2
    first = [float(m) for _, m in reqs[:5]]
    bursty = [float(m) for _, m in reqs[5:]]
    assert first == sorted(first) and bursty == sorted(bursty) and bursty[0] >= first[-1]
    # The 5th request waits for the 5th tick at the least.
    assert first[0] >= 0.2 and first[-1] >= 1.0
    assert 0.1 <= (first[-1] - first[0]) / 4 <= 0.4, first
    assert bursty[2] - bursty[0] < 0.15, bursty  # the burst: no tick awaited
    assert bursty[4] - bursty[2] >= 0.2, bursty  # then two more ticks
    assert bursty[4] - bursty[0] <= 1.5, bursty


def test_stateful_goroutines() -> None:
    """Go by Example: Stateful Goroutines: ``readOps: N`` then ``writeOps: M``, the
    operations done in the second the readers and writers run (Go's run
    shows "about 80,000 total operations"; Python threads do far fewer).
    Both kinds get served, and no reader or writer goes faster than one
    operation per millisecond it sleeps."""
    r = output("stateful_goroutines")
    assert len(r.lines) == 2, r.lines
    [(reads,)] = groups(r"readOps: (\d+)", r.lines[:1])
    [(writes,)] = groups(r"writeOps: (\d+)", r.lines[1:])
    assert int(reads) > 0 and int(writes) > 0
    assert int(reads) <= 100 * 1000 * r.elapsed  # 100 readers
    assert int(writes) <= 10 * 1000 * r.elapsed  # 10 writers


# -- every port --


@pytest.mark.parametrize("name", PAGES)
def test_nothing_on_stderr(name: str) -> None:
    """A Go by Example port prints nothing on stderr (Go's programs print nothing there)."""
    assert output(name).stderr == ""


@pytest.mark.parametrize("name", list(PAGES))
def test_each_port_names_its_page(name: str) -> None:
    """Each port opens by naming its Go by Example page and crediting the book."""
    doc = " ".join((PORTS / f"{name}.py").read_text().split('"""')[1].split())
    assert doc.startswith("Go by Example: "), name
    assert f"https://gobyexample.com/{PAGES[name]}" in doc, name
    assert "Mark McGranaghan" in doc and "CC BY 3.0" in doc, name
