"""The stress scale of ``conftest``: ``GOPOOL_STRESS`` read strictly, sizes scaled by it."""

from __future__ import annotations

import pytest
from conftest import Stress, stress_factor

pytestmark = [pytest.mark.timeout(30), pytest.mark.parallel_safe]


@pytest.mark.parametrize(("raw", "factor"), [(None, 1), ("", 1), ("1", 1), ("4", 4), (" 16 ", 16)])
def test_factor_from_the_environment(raw: str | None, factor: int) -> None:
    environ = {} if raw is None else {"GOPOOL_STRESS": raw}
    assert stress_factor(environ) == factor


@pytest.mark.parametrize("raw", ["0", "-4", "four", "2.5"])
def test_a_bad_factor_fails_loudly_naming_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match=f"GOPOOL_STRESS={raw!r}: expected a positive integer"):
        stress_factor({"GOPOOL_STRESS": raw})


def test_sizes_grow_by_the_factor() -> None:
    s = Stress(4)
    assert (s.threads(8), s.iterations(1000), s.seconds(60)) == (32, 4000, 240)
    one = Stress(1)
    assert (one.threads(8), one.iterations(1000), one.seconds(60)) == (8, 1000, 60)
