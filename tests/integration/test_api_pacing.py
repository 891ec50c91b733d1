"""With API Gateway's quotas on, the handlers keep to them (sunset.aws.pacing): a REST API's
redeployment waits out the 5 s AWS requires after the one before it."""

from __future__ import annotations

import itertools
import time
from typing import Any

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import seed_sample_service
from tests.conftest import FAST


def test_deployments_made_one_after_the_other_are_5_seconds_apart() -> None:
    deployed: list[tuple[str, float]] = []
    with Sandbox(api_quotas=True) as sandbox:
        service = seed_sample_service(sandbox.session)
        lambdas = sandbox.lambdas
        assert lambdas is not None

        def timed(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
            response = call(client, operation, params)
            if operation == "CreateDeployment" and lambdas.current is not None:
                deployed.append((lambdas.current, time.monotonic()))
            return response

        # When a decommission is rolled back at once, by a recommission
        with api_calls(timed):
            run = sandbox.run("decommission", service.request(backup=FAST), name="paced")
            assert run.status == "SUCCEEDED", run.cause
            back = sandbox.run("recommission", {"run_id": "paced", **FAST}, name="paced-back")
            assert back.status == "SUCCEEDED", back.cause
    # Then the REST API's stage was redeployed to cut access and again to restore it (and the
    # HTTP API's stages re-created), each deployment 5 s or more after the one before
    functions = [function for function, _ in deployed]
    assert functions[0] == "CutAccessFunction"
    assert "RestoreRoutesFunction" in functions
    times = [at for _, at in deployed]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps and min(gaps) >= 4.9, gaps
