"""A target's clients (AwsClients.assume): assumed at first use, kept while the credentials
last, assumed again before they run out; the session named after the run."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from sunset.aws.clients import ASSUMED_MARGIN_SECONDS, AwsClients
from sunset.journal import role_session_name

ROLE = "arn:aws:iam::210987654321:role/sunset-target"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_SESSION_TOKEN": "sandbox",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield AwsClients(boto3.Session(region_name="us-east-1"))


def test_the_role_is_assumed_at_the_first_call_and_kept(home: AwsClients) -> None:
    # When a step asks for the target's clients twice
    first = home.assume(ROLE, "eu-west-1", "sunset-run-1")
    # Then no credentials are asked for before a client is used
    assert first.expires_at is None
    assert first.region == "eu-west-1"
    identity = first.sts.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::210987654321:assumed-role/sunset-target/sunset-run-1"
    assert first.expires_at is not None and first.expires_at > time.time() + 3000
    # and the second ask gets the same clients
    assert home.assume(ROLE, "eu-west-1", "sunset-run-1") is first
    # while another Region or run gets its own
    assert home.assume(ROLE, "us-west-2", "sunset-run-1") is not first
    assert home.assume(ROLE, "eu-west-1", "sunset-run-2") is not first


def test_the_role_is_assumed_again_before_its_credentials_run_out(home: AwsClients) -> None:
    # Given clients whose credentials have less than the margin left
    first = home.assume(ROLE, "eu-west-1", "sunset-run-1")
    first.sts.get_caller_identity()
    first.expires_at = time.time() + ASSUMED_MARGIN_SECONDS - 1
    # When a step asks for them again
    second = home.assume(ROLE, "eu-west-1", "sunset-run-1")
    # Then they are new, assumed afresh
    assert second is not first
    assert second.sts.get_caller_identity()["Account"] == "210987654321"


@pytest.mark.parametrize(
    ("run_id", "name"),
    [
        ("retire-2026-11", "sunset-retire-2026-11"),
        ("Zürich (test)!", "sunset-Z-rich--test--"),
        ("x" * 80, "sunset-" + "x" * 57),
    ],
)
def test_the_session_name_is_one_assume_role_takes(run_id: str, name: str) -> None:
    assert role_session_name(run_id) == name
