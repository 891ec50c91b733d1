"""Benchmark: a full decommission of a generated service of N resources, in the sandbox.

    .venv/bin/python -m bench.harness --sizes 10,100 [--out bench/results/latest.json]

For each N it seeds a service of N resources of mixed kinds (SageMaker endpoints with their
configs and models, HTTP API routes, EBS volumes, log groups), runs the real state machine and
handlers on it, and records:

- wall time of the run (seeding excluded);
- every AWS call the handlers made, by service and operation, and per resource;
- the state transitions of the execution (from its history) and what they and the Lambda
  time imply per run at AWS list prices (PRICES below, us-east-1, arm64);
- the process's peak resident memory after the run;

and, once, the import time of each handler module in a fresh interpreter, next to the import
of boto3 alone (the cold start the handler adds to the SDK's).

Talks to moto only: the sandbox sets fake credentials and nothing leaves the process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sunset.local import Sandbox
from sunset.local.api_calls import ApiCall, api_calls
from sunset.local.sample import ACCOUNT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# AWS list prices, us-east-1, checked 2026-11 (https://aws.amazon.com/step-functions/pricing/,
# https://aws.amazon.com/lambda/pricing/): Standard workflows per state transition; Lambda on
# arm64 per GB-second and per request.
PRICES = {
    "state_transition": 0.025 / 1000,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
}
LAMBDA_MEMORY_GB = 0.5  # template.yaml Globals MemorySize: 512
ROUTES_PER_API = 50


def seed_scaled_service(session: Any, name: str, size: int) -> dict[str, int]:
    """A service of `size` resources: 30 % endpoints, 30 % HTTP routes (on APIs of up to
    50 routes), 30 % EBS volumes, the rest log groups; all tagged app=<name>."""
    tags = {"app": name, "team": "bench"}
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    counts = {
        "endpoints": size * 3 // 10,
        "routes": size * 3 // 10,
        "volumes": size * 3 // 10,
    }
    counts["log_groups"] = size - sum(counts.values())
    sagemaker = session.client("sagemaker")
    for index in range(counts["endpoints"]):
        model, config, endpoint = (f"{name}-m{index}", f"{name}-c{index}", f"{name}-e{index}")
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-sagemaker",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/m:{index}"},
            Tags=tag_list,
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.c5.large",
                }
            ],
            Tags=tag_list,
        )
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=tag_list)
    http = session.client("apigatewayv2")
    for first in range(0, counts["routes"], ROUTES_PER_API):
        api_id = http.create_api(
            Name=f"{name}-http-{first // ROUTES_PER_API}", ProtocolType="HTTP", Tags=tags
        )["ApiId"]
        integration = http.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}-router",
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        for index in range(first, min(first + ROUTES_PER_API, counts["routes"])):
            http.create_route(
                ApiId=api_id,
                RouteKey=f"POST /v1/model-{index}",
                Target=f"integrations/{integration}",
            )
        http.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    ec2 = session.client("ec2")
    for index in range(counts["volumes"]):
        ec2.create_volume(
            AvailabilityZone="us-east-1a",
            Size=8,
            TagSpecifications=[
                {"ResourceType": "volume", "Tags": [*tag_list, {"Key": "n", "Value": str(index)}]}
            ],
        )
    logs = session.client("logs")
    for index in range(counts["log_groups"]):
        logs.create_log_group(logGroupName=f"/bench/{name}/{index}", tags=tags)
    return counts


@contextmanager
def handler_calls(sandbox: Sandbox) -> Iterator[Counter[str]]:
    """Count the AWS calls the handlers make meanwhile, as 'service:Operation'."""
    lambdas = sandbox.lambdas
    assert lambdas is not None
    calls: Counter[str] = Counter()

    def counted(call: ApiCall, client: Any, operation: str, params: Any) -> Any:
        if lambdas.current is not None:
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return call(client, operation, params)

    with api_calls(counted):
        yield calls


def _lambda_seconds(events: list[dict[str, Any]]) -> tuple[int, float]:
    """Invocations and their total duration, from the history's task events."""
    scheduled: dict[int, datetime] = {}
    invocations, seconds = 0, 0.0
    for event in events:
        kind = event["type"]
        if kind == "TaskScheduled":
            scheduled[event["id"]] = event["timestamp"]
            invocations += 1
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            start_id = max((i for i in scheduled if i < event["id"]), default=None)
            if start_id is not None:
                seconds += (event["timestamp"] - scheduled.pop(start_id)).total_seconds()
    return invocations, seconds


def measure(size: int) -> dict[str, Any]:
    name = f"bench-{size}"
    with Sandbox() as sandbox:
        seeded_at = time.perf_counter()
        counts = seed_scaled_service(sandbox.session, name, size)
        seed_seconds = time.perf_counter() - seeded_at
        request = {
            "service": name,
            "selector": {"tags": {"app": name}},
            "reason": "benchmark",
            "backup": {"poll_seconds": 1, "deadline_seconds": 600},
        }
        with handler_calls(sandbox) as calls:
            started = time.perf_counter()
            run = sandbox.run("decommission", request, name=f"bench-{size}-run", timeout=3600)
            wall = time.perf_counter() - started
    if run.status != "SUCCEEDED":
        raise SystemExit(f"N={size}: the decommission {run.status}: {run.cause}")
    transitions = sum(1 for e in run.events if e["type"].endswith("StateEntered"))
    invocations, lambda_seconds = _lambda_seconds(run.events)
    total_calls = sum(calls.values())
    reads = sum(
        n for op, n in calls.items() if op.split(":")[1].startswith(("Describe", "Get", "List"))
    )
    cost = {
        "state_transitions": transitions * PRICES["state_transition"],
        "lambda_compute": lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second_arm64"],
        "lambda_requests": invocations * PRICES["lambda_request"],
    }
    return {
        "size": size,
        "resources": counts,
        "seed_seconds": round(seed_seconds, 2),
        "wall_seconds": round(wall, 2),
        "api_calls": dict(sorted(calls.items())),
        "api_calls_total": total_calls,
        "api_calls_per_resource": round(total_calls / size, 2),
        "reads_per_resource": round(reads / size, 2),
        "state_transitions": transitions,
        "lambda_invocations": invocations,
        "lambda_seconds": round(lambda_seconds, 2),
        "cost_usd": {k: round(v, 8) for k, v in cost.items()}
        | {"total": round(sum(cost.values()), 8)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _import_seconds(code: str, paths: list[Path], repeat: int) -> float:
    """The median time a fresh interpreter takes to run `code` (an import), measured inside it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    env.update({"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    return statistics.median(times)


def import_times(repeat: int = 5) -> dict[str, Any]:
    """Each handler's import in a fresh interpreter, and boto3's alone, in seconds."""
    layer = ROOT / "layers" / "common" / "python"
    boto3_alone = _import_seconds("import boto3", [layer], repeat)
    handlers = {
        directory.name: _import_seconds("import app", [directory, layer], repeat)
        for directory in sorted((ROOT / "functions").iterdir())
        if (directory / "app.py").is_file()
    }
    worst = max(handlers.values())
    return {
        "boto3_alone_seconds": round(boto3_alone, 4),
        "handlers_seconds": {k: round(v, 4) for k, v in handlers.items()},
        "worst_ratio_to_boto3": round(worst / boto3_alone, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="comma-separated N (default 10,100)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--no-imports", action="store_true", help="skip the import timings")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    runs = []
    for size in sizes:
        result = measure(size)
        runs.append(result)
        print(
            f"N={size:>5}: {result['wall_seconds']:>7.2f} s, "
            f"{result['api_calls_total']} calls ({result['api_calls_per_resource']}/resource, "
            f"reads {result['reads_per_resource']}/resource), "
            f"{result['state_transitions']} transitions, "
            f"${result['cost_usd']['total']:.6f}/run, peak RSS {result['peak_rss_mb']} MB"
        )
    report: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "prices": PRICES,
        "runs": runs,
    }
    if not args.no_imports:
        report["imports"] = imports = import_times()
        print(
            f"imports: boto3 alone {imports['boto3_alone_seconds']} s, worst handler "
            f"{imports['worst_ratio_to_boto3']}x that"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
