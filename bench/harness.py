"""Benchmark: a full decommission of a generated service of N resources, in the sandbox.

    .venv/bin/python -m bench.harness --sizes 10,100,1000 [--out bench/results/latest.json]
    .venv/bin/python -m bench.harness --dry-run --sizes 100,1000   # the same, planned only

For each N it seeds a service of N resources of mixed kinds (SageMaker endpoints with their
configs and models, HTTP API routes, EBS volumes, log groups), runs the real state machine and
handlers on it, and records:

- wall time of the run (seeding excluded);
- every AWS call the handlers made, by service and operation, and per resource;
- the state transitions of the execution (from its history), and what they, the Lambda time
  and the DynamoDB and S3 requests cost per run at AWS list prices (PRICES below);
- the size of the manifest in S3, and of the largest state input or output;
- the time API Gateway's fixed management quotas alone would add on AWS (the sandbox does
  not pace its calls: moto has no quotas);
- the process's peak resident memory after the run;

and, once, the import time of each handler module in a fresh interpreter, next to the import
of boto3 alone (the cold start the handler adds to the SDK's). Then it checks issue 9's
targets (`targets`), prints each as met or MISSED, and exits 1 when one is missed. The method
and the latest numbers are in docs/PERFORMANCE.md.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sunset.aws.pacing import api_gateway_seconds
from sunset.local import Sandbox
from sunset.local.api_calls import handler_calls
from sunset.local.sample import ACCOUNT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# AWS list prices, us-east-1, checked 2026-11: Step Functions Standard per state transition
# (https://aws.amazon.com/step-functions/pricing/); Lambda arm64 per GB-second and per request
# (https://aws.amazon.com/lambda/pricing/); DynamoDB on-demand per write and read request unit
# (https://aws.amazon.com/dynamodb/pricing/on-demand/); S3 Standard per PUT and per GET
# request (https://aws.amazon.com/s3/pricing/). The AWS APIs Sunset calls on the service's
# resources (SageMaker, EC2, API Gateway...) cost nothing per call.
PRICES = {
    "state_transition": 0.025 / 1000,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1_000_000,
    "dynamodb_write_request": 0.625 / 1_000_000,
    "dynamodb_read_request": 0.125 / 1_000_000,
    "s3_put_request": 0.005 / 1000,
    "s3_get_request": 0.0004 / 1000,
}
# Each audit entry, lock and run record is under 1 KB (one write unit), each read under 4 KB.
DYNAMODB_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
DYNAMODB_READS = ("dynamodb:GetItem", "dynamodb:Query")
LAMBDA_MEMORY_GB = 0.5  # template.yaml Globals MemorySize: 512
STATES_PER_POLL = 3  # Wait for backups -> Check backups -> Backups complete?

# The targets of issue 9, checked on every run of the benchmark.
WALL_SECONDS_AT_1000 = 60.0
READS_PER_RESOURCE = 0.75
IMPORT_RATIO = 1.25
ROUTES_PER_API = 50
# What every handler imports before any of Sunset's code: boto3, pydantic's BaseModel and
# Powertools' Logger and Metrics.
STACK_IMPORT = (
    "import boto3; from pydantic import BaseModel; "
    "from aws_lambda_powertools import Logger, Metrics"
)


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


def _object_size(sandbox: Sandbox, uri: str) -> int:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return int(sandbox.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"])


def _largest_payload(events: list[dict[str, Any]]) -> int:
    """The largest input or output a state of the execution had, in bytes (the Step Functions
    limit is 262,144)."""
    sizes = [
        len(str(details.get(part, "")).encode())
        for event in events
        for details in (event.get("stateEnteredEventDetails"), event.get("stateExitedEventDetails"))
        if details
        for part in ("input", "output")
    ]
    return max(sizes, default=0)


def measure(size: int, dry_run: bool = False) -> dict[str, Any]:
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
            "dry_run": dry_run,
        }
        calls: Counter[str] = Counter()
        in_order: list[tuple[str, str]] = []

        def count(_function: str, service: Any, operation: str) -> None:
            calls[f"{service.service_name}:{operation}"] += 1
            in_order.append((service.service_name, operation))

        with handler_calls(sandbox, count):
            started = time.perf_counter()
            run = sandbox.run("decommission", request, name=f"bench-{size}-run", timeout=3600)
            wall = time.perf_counter() - started
        manifest_bytes = _object_size(sandbox, (run.output or {}).get("manifest", ""))
    if run.status != "SUCCEEDED":
        raise SystemExit(f"N={size}: the decommission {run.status}: {run.cause}")
    entered = [e for e in run.events if e["type"].endswith("StateEntered")]
    transitions = len(entered)
    polls = sum(1 for e in entered if e["stateEnteredEventDetails"]["name"] == "Check backups")
    invocations, lambda_seconds = _lambda_seconds(run.events)
    total_calls = sum(calls.values())
    reads_by_call = {
        op: n
        for op, n in calls.items()
        if op.split(":")[1].startswith(("Describe", "Get", "List", "Search", "Filter"))
    }
    reads = sum(reads_by_call.values())
    cost = {
        "state_transitions": transitions * PRICES["state_transition"],
        "lambda_compute": lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second_arm64"],
        "lambda_requests": invocations * PRICES["lambda_request"],
        "dynamodb": sum(calls[op] for op in DYNAMODB_WRITES) * PRICES["dynamodb_write_request"]
        + sum(calls[op] for op in DYNAMODB_READS) * PRICES["dynamodb_read_request"],
        "s3": calls["s3:PutObject"] * PRICES["s3_put_request"]
        + (calls["s3:GetObject"] + calls["s3:HeadObject"]) * PRICES["s3_get_request"],
    }
    return {
        "size": size,
        "dry_run": dry_run,
        "resources": counts,
        "seed_seconds": round(seed_seconds, 2),
        "wall_seconds": round(wall, 2),
        "api_calls": dict(sorted(calls.items())),
        "api_calls_total": total_calls,
        "api_calls_per_resource": round(total_calls / size, 2),
        "reads_per_resource": round(reads / size, 2),
        # The issue's own wording ("describe calls per resource"), for reference: the target is
        # judged on every read above, which also counts List, Get, Search and Filter calls.
        "describe_calls_per_resource": round(
            sum(n for op, n in reads_by_call.items() if op.split(":")[1].startswith("Describe"))
            / size,
            2,
        ),
        # Reads that grow with N: the calls made more than once per 10 resources.
        "reads_growing_with_n": {op: n for op, n in sorted(reads_by_call.items()) if n * 10 > size},
        "state_transitions": transitions,
        "backup_polls": polls,
        # What the run costs in transitions beyond waiting for snapshots: each further poll
        # adds Wait for backups, Check backups and Backups complete?.
        "transitions_without_polling": transitions - STATES_PER_POLL * (polls - 1),
        # What API Gateway's fixed quotas alone would add on AWS (moto has none): the
        # handlers' calls, made in the same order, each as soon as the quotas let it.
        "api_gateway_quota_seconds": round(api_gateway_seconds(in_order), 1),
        "lambda_invocations": invocations,
        "lambda_seconds": round(lambda_seconds, 2),
        "cost_usd": {k: round(v, 8) for k, v in cost.items()}
        | {"total": round(sum(cost.values()), 8)},
        # The inventory lives in the manifest in S3; the state carries summaries only.
        "manifest_kb": round(manifest_bytes / 1024, 1),
        "largest_state_payload_bytes": _largest_payload(run.events),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _import_seconds(code: str, paths: list[Path]) -> float:
    """The time a fresh interpreter takes to run `code` (an import), measured inside it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    # As template.yaml's Globals set it for every function.
    env.update({"AWS_DEFAULT_REGION": "us-east-1", "PYDANTIC_DISABLE_PLUGINS": "__all__"})
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    return float(
        subprocess.run(
            [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
        ).stdout
    )


def import_times(rounds: int = 7) -> dict[str, Any]:
    """Each handler's import in a fresh interpreter, and boto3's alone, in seconds: the median
    of `rounds` rounds, each timing every module once, so that a slower moment of the machine
    weighs on all of them alike."""
    layer = ROOT / "layers" / "common" / "python"
    probes: dict[str, tuple[str, list[Path]]] = {
        "boto3": ("import boto3", [layer]),
        # botocore alone, for scale: boto3 adds little to it.
        "botocore.session": ("import botocore.session", [layer]),
        # The floor of any handler: the libraries every one of them needs (DESIGN.md's stack).
        "stack": (STACK_IMPORT, [layer]),
    }
    for directory in sorted((ROOT / "functions").iterdir()):
        if (directory / "app.py").is_file():
            probes[directory.name] = ("import app", [directory, layer])
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(rounds):
        for name, (code, paths) in probes.items():
            samples[name].append(_import_seconds(code, paths))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    boto3_alone = medians.pop("boto3")
    botocore_alone = medians.pop("botocore.session")
    stack = medians.pop("stack")
    worst = max(medians.values())
    return {
        "rounds": rounds,
        "boto3_alone_seconds": round(boto3_alone, 4),
        "botocore_session_alone_seconds": round(botocore_alone, 4),
        "stack_seconds": round(stack, 4),
        "stack_ratio_to_boto3": round(stack / boto3_alone, 2),
        "handlers_seconds": {k: round(v, 4) for k, v in medians.items()},
        "worst_ratio_to_boto3": round(worst / boto3_alone, 2),
    }


def _target(name: str, measured: float, limit: float, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "limit": limit, "met": met}


def targets(runs: list[dict[str, Any]], imports: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each target this benchmark can judge from what it measured, met or not."""
    by_size = {run["size"]: run for run in runs}
    checked = []
    if 1000 in by_size:
        wall, reads = by_size[1000]["wall_seconds"], by_size[1000]["reads_per_resource"]
        checked.append(
            _target("N=1000 wall seconds", wall, WALL_SECONDS_AT_1000, wall < WALL_SECONDS_AT_1000)
        )
        # At scale: at N=10 the reads every run makes once outweigh the per-resource ones.
        checked.append(
            _target(
                "reads per resource at N=1000",
                reads,
                READS_PER_RESOURCE,
                reads <= READS_PER_RESOURCE,
            )
        )
    if 100 in by_size and 1000 in by_size:
        # Linear or better: a resource costs no more time at N=1000 than at N=100.
        ratio = round(by_size[1000]["wall_seconds"] / by_size[100]["wall_seconds"], 2)
        checked.append(_target("wall(N=1000) / wall(N=100)", ratio, 10.0, ratio <= 10.0))
    flat = {run["transitions_without_polling"] for run in runs}
    checked.append(
        _target(
            "transitions without polling, spread across N",
            max(flat) - min(flat),
            0,
            len(flat) == 1,
        )
    )
    if imports is not None:
        ratio = imports["worst_ratio_to_boto3"]
        checked.append(
            _target(
                "worst handler import / import boto3", ratio, IMPORT_RATIO, ratio < IMPORT_RATIO
            )
        )
    return checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="comma-separated N (default 10,100)")
    parser.add_argument("--out", type=Path, help="default bench/results/latest.json")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="plan the decommissions instead (bench/results/dry-run.json by default)",
    )
    parser.add_argument("--no-imports", action="store_true", help="skip the import timings")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    out = args.out or RESULTS / ("dry-run.json" if args.dry_run else "latest.json")
    runs = []
    for size in sizes:
        result = measure(size, args.dry_run)
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
            f"imports: boto3 alone {imports['boto3_alone_seconds']} s; boto3, pydantic and "
            f"Powertools {imports['stack_ratio_to_boto3']}x that; worst handler "
            f"{imports['worst_ratio_to_boto3']}x"
        )
    report["targets"] = checked = targets(runs, report.get("imports"))
    for target in checked:
        verdict = "met" if target["met"] else "MISSED"
        print(
            f"target {target['target']}: {target['measured']} (limit {target['limit']}) {verdict}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0 if all(target["met"] for target in checked) else 1


if __name__ == "__main__":
    raise SystemExit(main())
