"""With API Gateway's quotas on, the handlers keep to them (sunset.aws.pacing): a REST API
stage's redeployment waits out the 5 s AWS requires after the one before it."""

from __future__ import annotations

import itertools
import time
from typing import Any

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import seed_sample_service
from tests.conftest import FAST


def test_one_step_redeploys_its_stages_5_seconds_apart() -> None:
    deployed: list[float] = []
    with Sandbox(api_quotas=True) as sandbox:
        # Given a REST API with two stages
        service = seed_sample_service(sandbox.session)
        sandbox.client("apigateway").create_deployment(
            restApiId=service.rest_api_id, stageName="staging"
        )
        lambdas = sandbox.lambdas
        assert lambdas is not None

        def timed(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
            response = call(client, operation, params)
            # Each Lambda environment has a pacer of its own: one function's calls are timed
            if operation == "CreateDeployment" and lambdas.current == "CutAccessFunction":
                deployed.append(time.monotonic())
            return response

        # When the service is decommissioned
        with api_calls(timed):
            run = sandbox.run("decommission", service.request(backup=FAST), name="paced")
        assert run.status == "SUCCEEDED", run.cause
    # Then Remove API routes redeployed both stages, the second 5 s after the first (less the
    # first call's own few milliseconds, as each is timed when it returns)
    assert len(deployed) == 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(deployed)]
    assert min(gaps) >= 4.9, gaps
