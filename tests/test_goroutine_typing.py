"""``go``, ``WaitGroup.go`` and ``errgroup.Group.go`` are typed with a ``ParamSpec``.

Not a port (Go's compiler checks a ``go`` statement's call itself): ``mypy
--strict`` is run on a small user file and must accept calls whose
arguments fit the function and flag each call whose arguments do not.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from test_context_raise import _mypy  # the same mypy --strict run

pytestmark = pytest.mark.timeout(300)

GOOD = '''\
from gopool import errgroup, go
from gopool.sync import WaitGroup


def f(x: int, *, label: str = "") -> None:
    print(x, label)


wg = WaitGroup()
g = errgroup.Group()
go(f, 1)
go(f, 2, label="two")
wg.go(f, 3)
g.go(f, 4, label="four")
g.try_go(f, 5)
wg.wait()
g.wait()
'''

BAD_CALLS = {
    "go": 'go(f, "str")',
    "WaitGroup.go": 'wg.go(f, "str")',
    "Group.go": 'g.go(f, "str")',
    "Group.try_go": 'g.try_go(f, "str")',
    "keyword": "go(f, 1, label=2)",
    "missing": "wg.go(f)",
}


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_accepts_fitting_calls_and_flags_the_rest(tmp_path: Path) -> None:
    """Each badly typed call is flagged on its own line; the fitting calls pass."""
    good = tmp_path / "good.py"
    good.write_text(GOOD)
    ok = _mypy(good, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    bad = tmp_path / "bad.py"
    lines = GOOD.splitlines()
    first_bad = len(lines) + 1
    bad.write_text("\n".join(lines + list(BAD_CALLS.values())) + "\n")
    failed = _mypy(bad, tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    flagged = {
        int(line.split(":")[1])
        for line in failed.stdout.splitlines()
        if line.startswith(str(bad)) and ": error:" in line
    }
    for offset, name in enumerate(BAD_CALLS):
        assert first_bad + offset in flagged, (name, failed.stdout)
    # Nothing in the good part is flagged.
    assert all(n >= first_bad for n in flagged), failed.stdout
