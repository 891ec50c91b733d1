"""Following target runs: how often the parent asks, and how it sums them up."""

from __future__ import annotations

from sunset.phases.targets import MAX_POLL_SECONDS, TargetRun, poll_wait, summary_of
from sunset.request import Target

# An execution's history holds 25,000 events; each poll of the target runs adds 9 (the Wait,
# the Task and its Lambda events, the Choice).
HISTORY_EVENTS = 25_000
EVENTS_PER_POLL = 9
YEAR_SECONDS = 31_536_000


def _polls(seconds: float, shortest: int) -> int:
    took, polls = 0.0, 0
    while took < seconds:
        took += poll_wait(took, shortest)
        polls += 1
    return polls


def test_the_longest_run_is_followed_within_one_execution_history() -> None:
    # Given target runs that take a year (the longest a Standard execution lives: a request
    # may wait that long for its approval), followed from the shortest poll a request may ask
    # Then the polls fit in the history, with room for the rest of the run
    assert _polls(YEAR_SECONDS, 1) * EVENTS_PER_POLL < HISTORY_EVENTS * 0.8


def test_a_short_run_is_followed_closely_and_a_long_one_at_most_every_six_hours() -> None:
    assert poll_wait(0, 5) == 5
    assert poll_wait(600, 5) == 30
    assert poll_wait(86_400, 5) == 4_320
    assert poll_wait(30 * 86_400, 5) == MAX_POLL_SECONDS == 6 * 3_600


def test_the_summary_names_what_did_not_succeed_and_what_still_runs() -> None:
    def run(account: str, status: str, error: str | None = None) -> TargetRun:
        target = Target(
            account=account, region="eu-west-1", role_arn=f"arn:aws:iam::{account}:role/r"
        )
        return TargetRun(
            target=target,
            run_id=f"r--{account}-eu-west-1",
            execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:r--{account}",
            status=status,
            error=error,
        )

    runs = [
        run("111111111111", "SUCCEEDED"),
        run("222222222222", "FAILED", "AwsCallFailed"),
        run("333333333333", "RUNNING"),
        run("444444444444", "NOT_STARTED", "AccessDenied"),
    ]
    assert summary_of(runs) == (
        "1 of 4 target runs succeeded; running: 333333333333/eu-west-1 "
        "(r--333333333333-eu-west-1); not succeeded: 222222222222/eu-west-1 "
        "(r--222222222222-eu-west-1: FAILED, AwsCallFailed), 444444444444/eu-west-1 "
        "(r--444444444444-eu-west-1: NOT_STARTED, AccessDenied)"
    )
