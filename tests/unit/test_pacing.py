"""API Gateway calls are paced to the account's fixed management quotas (sunset.aws.pacing)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from sunset.aws import pacing
from sunset.aws.pacing import Pacer, api_gateway_pacer, api_gateway_seconds, paced_seconds


class FakeClock:
    """A clock that only moves when the pacer sleeps, or a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pacer(clock: FakeClock) -> Pacer:
    return api_gateway_pacer(clock, clock.sleep)


def test_a_burst_of_40_goes_at_once_then_10_a_second(pacer: Pacer, clock: FakeClock) -> None:
    for _ in range(40):
        pacer.pace("apigatewayv2", "DeleteRoute")
    assert clock.now == 0
    # The 41st waits for the next token, a tenth of a second
    pacer.pace("apigatewayv2", "DeleteRoute")
    assert clock.now == pytest.approx(0.1)
    for _ in range(100):
        pacer.pace("apigatewayv2", "DeleteRoute")
    assert clock.now == pytest.approx(10.1)


def test_rest_and_http_calls_share_the_total(pacer: Pacer, clock: FakeClock) -> None:
    for _ in range(20):
        pacer.pace("apigateway", "GetStages")
        pacer.pace("apigatewayv2", "GetRoutes")
    pacer.pace("apigateway", "GetRestApi")
    assert clock.now == pytest.approx(0.1)


def test_deployments_are_5_seconds_apart_rest_or_http(pacer: Pacer, clock: FakeClock) -> None:
    pacer.pace("apigateway", "CreateDeployment")
    assert clock.now == 0
    pacer.pace("apigatewayv2", "CreateDeployment")
    assert clock.now == pytest.approx(5)
    # Time that passed meanwhile counts: 3 s of other work, then 2 s of waiting
    clock.now += 3
    pacer.pace("apigateway", "CreateDeployment")
    assert clock.now == pytest.approx(10)
    assert clock.slept == [pytest.approx(5), pytest.approx(2)]


def test_rest_resources_are_read_5_every_2_seconds(pacer: Pacer, clock: FakeClock) -> None:
    for _ in range(5):
        pacer.pace("apigateway", "GetResources")
    assert clock.now == 0
    pacer.pace("apigateway", "GetResources")
    assert clock.now == pytest.approx(0.4)


def test_other_services_are_not_paced(pacer: Pacer, clock: FakeClock) -> None:
    # The tagging API's GetResources is not API Gateway's
    for _ in range(100):
        pacer.pace("resourcegroupstaggingapi", "GetResources")
        pacer.pace("ec2", "CreateSnapshot")
    assert clock.now == 0


def test_nothing_waits_where_quotas_are_not_enforced(
    pacer: Pacer, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the sandbox by default: moto has no quotas
    monkeypatch.setattr(pacing, "ENFORCED", False)
    for _ in range(10):
        pacer.pace("apigateway", "CreateDeployment")
    assert clock.now == 0


def test_a_client_is_paced_before_each_call_it_makes(pacer: Pacer, clock: FakeClock) -> None:
    with mock_aws():
        client = boto3.client("apigateway", region_name="us-east-1")
        pacer.attach(client)
        for _ in range(41):
            client.get_rest_apis()
    assert clock.slept == [pytest.approx(0.1)]


def test_what_calls_take_is_told_from_full_or_from_empty_buckets() -> None:
    deployments = [("apigateway", "CreateDeployment")] * 3
    assert api_gateway_seconds(deployments) == pytest.approx(10)
    assert api_gateway_seconds(deployments, drained=True) == pytest.approx(15)
    routes = [("apigatewayv2", "DeleteRoute")] * 300
    assert api_gateway_seconds(routes) == pytest.approx(26)
    assert paced_seconds(routes) == pytest.approx(30)


def test_a_step_counts_no_wait_where_quotas_are_not_enforced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "ENFORCED", False)
    assert paced_seconds([("apigateway", "CreateDeployment")] * 3) == 0
    # A replay on its own clock paces all the same (the benchmark's)
    assert api_gateway_seconds([("apigateway", "CreateDeployment")] * 3) == pytest.approx(10)
