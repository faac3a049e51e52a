"""Every Python block of README.md and of the documentation (docs/*.md) runs as written.

The convention, for whoever writes a page: a fenced ``python`` block is a
standalone program. It is run in a fresh interpreter, from a file in an
empty directory (so a process pool's children can import it), with gopool
imported from this checkout, and must exit 0 with nothing on stderr (a
goroutine's escaped exception is reported there). Blocks that are not
programs say so on their first line:

* ``# fragment: <why>``: not run, but it must parse (an outline, a
  signature, a piece of a longer program);
* ``# needs: MODULE``: run only when ``MODULE`` can be imported (an
  optional dependency, such as ``distributed``).

Blocks indented under a list item or an admonition are read without their
indentation. The README's shell commands are checked by CI (.ci/package)
and by the tests of the demo.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_examples import ROOT, checkout_env

pytestmark = pytest.mark.timeout(180)

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^`]*$")
FRAGMENT = re.compile(r"# fragment: \S")
NEEDS = re.compile(r"# needs: (?P<module>[\w.]+)\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.code.lstrip("\n").split("\n", 1)[0]


def python_blocks(page: Path) -> list[Block]:
    """The fenced ``python`` blocks of ``page``, each without its fence's indentation."""
    blocks = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = m["indent"], i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"{page}:{start + 1}: a fence that never closes"
        i += 1
        if m["lang"] == "python":
            blocks.append(Block(page, start + 1, "\n".join(body) + "\n"))
    return blocks


BLOCKS = [b for page in PAGES for b in python_blocks(page)]


def test_the_pages_have_blocks() -> None:
    """The collection itself: the README's tour is found, and so is every page's."""
    readme = [b for b in BLOCKS if b.page.name == "README.md"]
    assert len(readme) >= 6
    assert not [b for b in readme if FRAGMENT.match(b.first_line)], "the README's tour all runs"


def shell_blocks(page: Path) -> list[list[str]]:
    """The commands of each fenced ``sh`` block of ``page``, comments and blank lines dropped."""
    found = re.findall(r"^```sh\n(.*?)^```$", page.read_text(encoding="utf-8"), re.M | re.S)
    return [
        [c for line in block.splitlines() if (c := line.split("#", 1)[0].strip())]
        for block in found
    ]


def test_readme_starts_with_a_newcomers_commands() -> None:
    """The first commands make a venv, install, run the demo (CI runs them as written,
    .ci/package); the next ones are the test command CI runs (.ci/run)."""
    first, tests = shell_blocks(ROOT / "README.md")[:2]
    assert first == [
        "python3 -m venv .venv && . .venv/bin/activate",
        "python -m pip install -e .",
        "python -m gopool",
    ]
    assert tests == ["python -m pip install -e '.[test]'", "python -m pytest"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("```sh") < text.index("```python"), "the commands come before the tour"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-e '.[test]'" in ci and "-m pytest" in ci


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    # Every block parses, fragments too (a fragment may await at the top level).
    compile(block.code, block.where, "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if FRAGMENT.match(block.first_line):
        return
    if m := NEEDS.match(block.first_line):
        if importlib.util.find_spec(m["module"]) is None:
            pytest.skip(f"{m['module']} is not installed")
    program = tmp_path / "snippet.py"
    program.write_text(block.code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(program)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        env=checkout_env(),
    )
    assert proc.returncode == 0, f"{block.where} exited {proc.returncode}:\n{proc.stderr}"
    assert proc.stderr == "", f"{block.where} wrote to stderr:\n{proc.stderr}"
