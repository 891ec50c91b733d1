"""A step that resumes starts no unit of work without time for it, but always starts one."""

from __future__ import annotations

import pytest

from sunset.journal import RESUME_MARGIN_SECONDS, OutOfTime, TimeBudget


def test_the_first_unit_starts_whatever_time_is_left() -> None:
    looked: list[float] = []

    def left() -> float:
        looked.append(0.0)
        return 0.0

    budget = TimeBudget(left)
    budget.next_unit("the first snapshot")
    # It did not even look: an invocation always makes progress
    assert looked == []
    with pytest.raises(OutOfTime, match="paused before the second snapshot"):
        budget.next_unit("the second snapshot")


@pytest.mark.parametrize(
    ("left", "pauses"),
    [(RESUME_MARGIN_SECONDS + 1, False), (RESUME_MARGIN_SECONDS - 1, True)],
)
def test_later_units_need_the_margin_left(left: float, pauses: bool) -> None:
    budget = TimeBudget(lambda: left)
    budget.next_unit("one")
    if pauses:
        with pytest.raises(OutOfTime):
            budget.next_unit("two")
    else:
        budget.next_unit("two")


def test_without_a_clock_there_is_always_time() -> None:
    budget = TimeBudget()
    for unit in range(1000):
        budget.next_unit(f"unit {unit}")


def test_a_unit_known_to_be_long_needs_its_length_beyond_the_margin() -> None:
    # 90 s left: room for a unit with no known wait, not for one the quotas hold 45 s
    budget = TimeBudget(lambda: RESUME_MARGIN_SECONDS + 30)
    budget.next_unit("one")
    budget.next_unit("a short one", seconds=0)
    with pytest.raises(OutOfTime, match="a REST API"):
        budget.next_unit("a REST API", seconds=45)
