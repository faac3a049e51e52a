"""The package's metadata, and the honesty of the README's benchmark summary.

CI builds the package and checks it for real (.ci/package: ``python -m
build``, ``twine check``, the tests from the unpacked sdist, mypy and pyright
over an editable install); these tests check what a build would accept
silently: a deprecated license table, a missing author or URL, a summary
quoting a figure that no table has.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import gopool

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_metadata() -> None:
    project = PROJECT["project"]
    assert project["license"] == "MIT"  # an SPDX expression, not the deprecated table
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"] and all(a.get("name") for a in project["authors"])
    assert project["urls"]
    classifiers = project["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")], "SPDX replaces these"
    assert project["dynamic"] == ["version"]
    assert {"test", "dev", "docs", "dask"} <= set(project["optional-dependencies"])


def test_editable_install_is_a_path_entry() -> None:
    """hatchling's editable install adds the checkout to sys.path with a .pth file,
    which mypy and pyright follow (setuptools' import hook they do not)."""
    assert PROJECT["build-system"]["build-backend"] == "hatchling.build"
    hatch = PROJECT["tool"]["hatch"]
    assert hatch["version"]["path"] == "gopool/__init__.py"
    assert "dev-mode-exact" not in hatch.get("build", {}).get("targets", {}).get("wheel", {})
    assert re.fullmatch(r"\d+\.\d+\.\d+", gopool.__version__)


def test_sdist_ships_what_the_tests_need() -> None:
    include = PROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    for needed in ("/gopool", "/tests", "/examples", "/docs", "/mkdocs.yml", "/README.md"):
        assert needed in include
    assert (ROOT / "tests" / "conftest.py").is_file()


def _summary() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Benchmarks, in short")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_benchmark_summary_quotes_the_tables() -> None:
    """Every figure in the README's summary is in benchmarks/README.md, the full tables."""
    tables = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    figures = re.findall(r"\d[\d,]*(?:\.\d+)?", _summary())
    assert len(figures) >= 10
    for figure in figures:
        assert re.search(rf"(?<![\d.]){re.escape(figure)}(?!\d|\.\d)", tables), figure
    # A ratio (2.23 or a range 2.2-2.7, then a multiplication sign) is quoted as the
    # tables give it, followed by x or the same sign.
    times = "\u00d7"
    ratios = re.findall(rf"(?<![\d.-])(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?){times}", _summary())
    assert len(ratios) >= 5
    for ratio in ratios:
        assert re.search(rf"(?<![\d.-]){re.escape(ratio)}[x{times}]", tables), ratio


def test_the_tables_carry_no_local_paths_or_commits() -> None:
    tables = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"/work/|/home/|/tmp/|sha256 [0-9a-f]|commit [0-9a-f]{7}", tables)
