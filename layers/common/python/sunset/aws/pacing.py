"""Client-side pacing for the AWS operations whose rates are capped by documented, fixed quotas.

API Gateway's management calls are capped per account and Region, and AWS will not raise the
caps (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, "API Gateway
quotas for creating, deploying and managing an API"): 10 requests a second in all, with a burst
of 40; CreateDeployment once every 5 seconds; DeleteResource 5 a second; GetResources 5 every 2
seconds. Sunset assumes an HTTP API's CreateDeployment shares that cap. At N=1000 Remove API
routes makes about 330 of these calls in a row, and a REST API's
redeployment follows the one before it within a second: unpaced, the step meets
TooManyRequestsException over and over, each time a failed attempt and a retry of the whole step.

So every API Gateway call waits, before it is sent, for a token in each bucket it draws on: the
account's total, and its operation's own where it has one. The buckets live as long as the
process (the Lambda execution environment), shared by the REST (apigateway) and HTTP
(apigatewayv2) clients: the page does not say whether the HTTP API's management calls count
toward the same total, so they are assumed to. Other callers in the account draw on the same
quotas unseen; what they take still comes back as a throttle, which the step's retry handles.

The sandbox turns pacing off (moto has no quotas, and test runs follow each other within
seconds): `Sandbox(api_quotas=True)` turns it on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Whether the pacers wait; the sandbox sets it (sunset.local.sandbox).
ENFORCED = True


@dataclass
class TokenBucket:
    """`capacity` calls at once, then `rate` calls a second."""

    rate: float
    capacity: float
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def drain(self) -> None:
        self.tokens = 0.0

    def refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> float:
        """Seconds until a token is there (refilled first). A shortfall below a microsecond's
        refill is float rounding, not a wait: sleeping it would only round again."""
        shortfall = 1 - self.tokens
        return shortfall / self.rate if shortfall * 1e6 > self.rate else 0.0


class Pacer:
    """Holds each call until every bucket it draws on has a token, then takes one from each.

    `buckets`: for a (service, operation), the buckets its calls draw on, besides the
    service's own under (service, "*"). `switchable`: whether ENFORCED can turn it off (a
    replay on a clock of its own always paces)."""

    def __init__(
        self,
        buckets: Mapping[tuple[str, str], list[TokenBucket]],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        switchable: bool = True,
    ) -> None:
        self._buckets = buckets
        self._switchable = switchable
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    def _drawn_on(self, service: str, operation: str) -> list[TokenBucket]:
        return [
            *self._buckets.get((service, "*"), []),
            *self._buckets.get((service, operation), []),
        ]

    def pace(self, service: str, operation: str) -> None:
        buckets = self._drawn_on(service, operation)
        if not buckets or (self._switchable and not ENFORCED):
            return
        with self._lock:
            while True:
                now = self._clock()
                for bucket in buckets:
                    bucket.refill(now)
                wait = max(bucket.wait() for bucket in buckets)
                if wait <= 0:
                    break
                self._sleep(wait)
            for bucket in buckets:
                bucket.tokens -= 1

    def drain(self) -> None:
        """Empty every bucket: as if other calls had just spent them."""
        for buckets in self._buckets.values():
            for bucket in buckets:
                bucket.drain()

    def attach(self, client: Any) -> None:
        """Pace every call `client` makes, before botocore sends it."""
        service = client.meta.service_model.service_name

        def before_call(model: Any, **_: Any) -> None:
            self.pace(service, model.name)

        client.meta.events.register("before-call", before_call)


def api_gateway_pacer(
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    switchable: bool = True,
) -> Pacer:
    """The buckets of API Gateway's fixed management quotas, for one account and Region."""
    total = TokenBucket(rate=10, capacity=40)
    deployments = TokenBucket(rate=1 / 5, capacity=1)
    return Pacer(
        {
            ("apigateway", "*"): [total],
            ("apigatewayv2", "*"): [total],
            ("apigateway", "CreateDeployment"): [deployments],
            ("apigatewayv2", "CreateDeployment"): [deployments],
            ("apigateway", "DeleteResource"): [TokenBucket(rate=5, capacity=5)],
            ("apigateway", "GetResources"): [TokenBucket(rate=5 / 2, capacity=5)],
        },
        clock,
        sleep,
        switchable,
    )


def api_gateway_seconds(calls: Iterable[tuple[str, str]], *, drained: bool = False) -> float:
    """How long `calls` (service, operation), made one after the other in no time, take once
    paced to API Gateway's quotas: from full buckets, or from `drained` ones (the worst case,
    for a step deciding whether a unit of work fits in the time it has left)."""
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pacer = api_gateway_pacer(lambda: clock[0], sleep, switchable=False)
    if drained:
        pacer.drain()
    for service, operation in calls:
        pacer.pace(service, operation)
    return clock[0]


def paced_seconds(calls: Iterable[tuple[str, str]]) -> float:
    """What pacing will add to `calls` at worst; nothing where quotas are not enforced."""
    return api_gateway_seconds(calls, drained=True) if ENFORCED else 0.0
