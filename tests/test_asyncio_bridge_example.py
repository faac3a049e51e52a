"""examples/asyncio_bridge.py: an asyncio service over a gopool Pool, run in a subprocess.

A normal run answers every request exactly once with its own result; a run
interrupted with Ctrl-C (SIGINT) exits 130 without a traceback, and accounts
for every accepted job (delivered + cancelled == accepted).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from test_examples import ROOT, checkout_env

pytestmark = pytest.mark.timeout(120)

SCRIPT = str(ROOT / "examples" / "asyncio_bridge.py")
TEXT_PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
COUNTS = re.compile(
    r"(done|interrupted): accepted (\d+), delivered (\d+), answered (\d+), cancelled (\d+)"
)


def test_every_request_gets_its_own_answer() -> None:
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--requests", "60", "--workers", "4", "--job-ms", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        env=checkout_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "serving 60 requests from 32 clients with 4 workers"
    answers = [re.fullmatch(r"request (\d+): REQUEST (\d+)", line) for line in lines[1:-1]]
    assert all(m is not None and m[1] == m[2] for m in answers), lines
    assert sorted(int(m[1]) for m in answers if m) == list(range(60))
    m = COUNTS.fullmatch(lines[-1])
    assert m is not None and m.groups() == ("done", "60", "60", "60", "0"), lines[-1]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_stops_the_service_and_accounts_for_every_job() -> None:
    args = [sys.executable, SCRIPT, "--requests", "100000", "--workers", "4", "--job-ms", "5"]
    proc = subprocess.Popen(args, env=checkout_env(), **TEXT_PIPES)  # type: ignore[call-overload]
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("serving 100000 requests")
        # Let some requests complete, so that results, queued jobs and
        # waiting submits are all there when the interrupt lands.
        for _ in range(20):
            assert proc.stdout.readline().startswith("request ")
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    m = COUNTS.fullmatch(out.splitlines()[-1])
    assert m is not None and m[1] == "interrupted", out[-500:]
    accepted, delivered, answered, cancelled = (int(g) for g in m.groups()[1:])
    assert accepted < 100000
    assert delivered + cancelled == accepted
    assert 20 <= answered <= delivered
