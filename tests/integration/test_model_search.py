"""Back up reads a service's models with Search, 100 a call, instead of one DescribeModel each:
what it captures must be what DescribeModel answers, and the reads must stay bounded in an
account that holds many more models than the service."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sunset.aws import sagemaker
from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls, handler_calls
from tests.conftest import FAST, manifest_of

ROLE = "arn:aws:iam::123456789012:role/serving"


def _models(client: Any, names: list[str], tags: dict[str, str] | None = None) -> None:
    for name in names:
        client.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1",
                "ModelDataUrl": f"s3://models/{name}.tar.gz",
                "Environment": {"MODEL": name},
            },
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )


def _searches(calls: Counter[str]) -> Any:
    def counting(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        calls[operation] += 1
        return call(client, operation, params)

    return api_calls(counting)


def test_search_answers_each_model_as_describe_model_does(sandbox: Sandbox) -> None:
    client = sandbox.client("sagemaker")
    names = [f"model-{i}" for i in range(12)]
    _models(client, names, {"app": "search"})
    calls: Counter[str] = Counter()
    with _searches(calls):
        found = sagemaker.search_models(client, set(names))
    assert calls == Counter({"Search": 1})
    assert found == {name: sagemaker.describe_model(client, name) for name in names}


def test_search_gives_up_after_a_page_for_every_ten_models(sandbox: Sandbox) -> None:
    # Given the service's 15 models, older than 300 models of others in the account
    client = sandbox.client("sagemaker")
    wanted = [f"ours-{i}" for i in range(15)]
    _models(client, wanted)
    _models(client, [f"theirs-{i}" for i in range(300)])
    calls: Counter[str] = Counter()
    with _searches(calls):
        found = sagemaker.search_models(client, set(wanted))
    # Then Search read two pages of the newest, none of them ours, and left ours to describe
    assert calls == Counter({"Search": 2})
    assert found == {}


def test_three_models_or_fewer_are_not_searched(sandbox: Sandbox) -> None:
    client = sandbox.client("sagemaker")
    _models(client, ["a", "b", "c"])
    calls: Counter[str] = Counter()
    with _searches(calls):
        assert sagemaker.search_models(client, {"a", "b", "c"}) == {}
    assert not calls


@pytest.mark.parametrize(
    ("code", "raised"), [("AccessDeniedException", False), ("ThrottlingException", True)]
)
def test_a_refused_search_leaves_the_models_to_describe(
    sandbox: Sandbox, code: str, raised: bool
) -> None:
    client = sandbox.client("sagemaker")
    names = [f"model-{i}" for i in range(5)]
    _models(client, names)

    def refusing(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if operation == "Search":
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, operation)
        return call(client, operation, params)

    with api_calls(refusing):
        if raised:
            # Throttled: the step fails retryable, and the state machine tries again.
            with pytest.raises(ClientError):
                sagemaker.search_models(client, set(names))
        else:
            # Search only saves calls: a refusal is no reason to stop a backup.
            assert sagemaker.search_models(client, set(names)) == {}


def _service_of_models(sandbox: Sandbox, names: list[str]) -> dict[str, Any]:
    """Endpoints `names`, each serving its own model `<name>-model`: the request to retire them."""
    client = sandbox.client("sagemaker")
    tags = [{"Key": "app", "Value": "many-models"}]
    _models(client, [f"{name}-model" for name in names], {"app": "many-models"})
    for name in names:
        client.create_endpoint_config(
            EndpointConfigName=f"{name}-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": f"{name}-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.c5.xlarge",
                }
            ],
            Tags=tags,
        )
        client.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config", Tags=tags)
    return {
        "service": "many-models",
        "selector": {"tags": {"app": "many-models"}},
        "reason": "Retired: replaced by one multi-model endpoint",
        "backup": {"poll_seconds": 1, "deadline_seconds": 120},
    }


def _counting(calls: Counter[str]) -> Any:
    def count(function: str, service: Any, operation: str) -> None:
        calls[f"{function} {operation}"] += 1

    return count


def test_a_decommission_captures_its_models_through_search(sandbox: Sandbox) -> None:
    # Given a service of five endpoints, each serving its own model
    names = [f"many-{i}" for i in range(5)]
    request = _service_of_models(sandbox, names)
    client = sandbox.client("sagemaker")
    calls: Counter[str] = Counter()
    # When it is decommissioned
    with handler_calls(sandbox, _counting(calls)):
        run = sandbox.run("decommission", request, name="many-models")
    # Then Back up read the models with one Search, and none one by one
    assert run.status == "SUCCEEDED", run.cause
    assert calls["BackupFunction DescribeModel"] == 0
    # and the manifest holds each model as DescribeModel answers it, enough to re-create it
    captured = manifest_of(sandbox, "many-models")["backups"]["endpoints"]
    originals = {}
    for name in names:
        model = sagemaker.describe_model(client, f"{name}-model")
        (recorded,) = captured[name]["models"]
        assert recorded["PrimaryContainer"] == model["PrimaryContainer"]
        assert recorded["ExecutionRoleArn"] == model["ExecutionRoleArn"]
        assert recorded["ModelArn"] == model["ModelArn"]
        originals[name] = model
    # and once the models are deleted, a recommission re-creates them from that capture
    for name in names:
        client.delete_model(ModelName=f"{name}-model")
    restore = sandbox.run("recommission", {"run_id": "many-models", **FAST}, name="many-back")
    assert restore.status == "SUCCEEDED", restore.cause
    for name in names:
        model = sagemaker.describe_model(client, f"{name}-model")
        assert model["PrimaryContainer"] == originals[name]["PrimaryContainer"]
        assert model["ExecutionRoleArn"] == originals[name]["ExecutionRoleArn"]


def test_models_search_misses_or_answers_in_part_are_described(sandbox: Sandbox) -> None:
    # Given five endpoints, and a Search whose index lacks one model and has another without
    # its container
    names = [f"many-{i}" for i in range(5)]
    request = _service_of_models(sandbox, names)

    def lagging(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        answer = call(client, operation, params)
        if operation == "Search" and params.get("Resource") == "Model":
            models = [r["Model"]["Model"] for r in answer["Results"]]
            for model in models:
                if model["ModelName"] == "many-1-model":
                    del model["PrimaryContainer"]
            records = [{"Model": {"Model": m}} for m in models if m["ModelName"] != "many-0-model"]
            answer = {**answer, "Results": records}
        return answer

    calls: Counter[str] = Counter()
    # When it is decommissioned
    with api_calls(lagging), handler_calls(sandbox, _counting(calls)):
        run = sandbox.run("decommission", request, name="many-lagging")
    # Then Back up described those two, and captured all five whole
    assert run.status == "SUCCEEDED", run.cause
    assert calls["BackupFunction DescribeModel"] == 2
    captured = manifest_of(sandbox, "many-lagging")["backups"]["endpoints"]
    assert all(captured[name]["models"][0].get("PrimaryContainer") for name in names)
