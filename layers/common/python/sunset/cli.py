"""The `sunset` command line.

    sunset demo [--restore]          decommission the sample AI service in the sandbox
                                     (and bring it back, with --restore)
    sunset run --input FILE          decommission with your own input, in the sandbox
    sunset sandbox serve --port N    the sandbox as an AWS endpoint on 127.0.0.1:N, for the
                                     AWS CLI (--endpoint-url), with the sample service seeded
    sunset plan --input FILE         dry-run it on a deployed stack (or --sandbox, on the
                                     sample service) and print the plan; nothing is changed
    sunset start --input FILE        start a decommission on a deployed stack (--watch follows)
    sunset status RUN_ID             where a run or restore on a deployed stack stands
    sunset watch RUN_ID              follow a run or restore on a deployed stack to its end
    sunset restore RUN_ID            recommission a run's service on a deployed stack
    sunset schedule --input FILE --at 2026-12-01T22:00 --tz Europe/Paris
                                     a one-time decommission, started by EventBridge Scheduler
    sunset schedules / unschedule NAME   the planned shutdowns of a deployed stack
    sunset runs                      list the runs of a deployed stack and their state
    sunset report RUN_ID [--open]    show a run's post-mortem (from a deployed stack, or
                                     --from DIR for the artifacts a sandbox run copied out)
    sunset schema [--write DIR]      the execution inputs as JSON Schema (docs/schema/)

The sandbox lives as long as one command: a restore in the sandbox follows its decommission in
the same command (--restore). `restore` and `runs` talk to a stack deployed with `sam deploy`
(--stack, default "sunset"), with the usual AWS credentials.

Exit codes: 0 the run succeeded; 1 the run failed (the reason is printed on one line);
2 the command itself was wrong (unreadable input file, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from sunset.errors import InvalidRequest, ManifestError

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2


class _Progress:
    """Prints one line per state as the execution history grows."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.entered: dict[str, datetime] = {}
        self.summary: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if "stateEnteredEventDetails" in event:
            self.entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
            self.summary = None
        elif kind in {"TaskSucceeded", "LambdaFunctionSucceeded"}:
            details = event.get("taskSucceededEventDetails") or event.get(
                "lambdaFunctionSucceededEventDetails", {}
            )
            payload = json.loads(details.get("output") or "{}")
            payload = payload.get("Payload", payload) if isinstance(payload, dict) else {}
            self.summary = payload.get("summary") if isinstance(payload, dict) else None
        elif kind in {"TaskFailed", "LambdaFunctionFailed"}:
            details = event.get("taskFailedEventDetails") or event.get(
                "lambdaFunctionFailedEventDetails", {}
            )
            self.summary = f"FAILED: {details.get('error', '')}"
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            started = self.entered.get(name, event["timestamp"])
            seconds = (event["timestamp"] - started).total_seconds()
            note = f"  {self.summary}" if self.summary else ""
            self.out.write(f"  {name:<30} {seconds:6.2f} s{note}\n")
            self.out.flush()
            self.summary = None


def _timestamped(prefix: str) -> str:
    """A new execution name: prefix and the time, within Step Functions' 80 characters."""
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}"[:80]


def _read_input(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(_usage_error(f"cannot read {path}: {exc.strerror}")) from None
    except json.JSONDecodeError as exc:
        raise SystemExit(_usage_error(f"{path} is not valid JSON: {exc}")) from None


def _usage_error(message: str) -> int:
    print(f"sunset: {message}", file=sys.stderr)
    return EXIT_USAGE


def _save_artifacts(sandbox: Any, run_id: str, out_dir: Path) -> Path:
    """Copy the run's artifacts out of the sandbox's bucket so they outlive the process."""
    s3 = sandbox.client("s3")
    bucket = sandbox.outputs["ArtifactsBucketName"]
    target = out_dir / run_id
    target.mkdir(parents=True, exist_ok=True)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{run_id}/")
    for item in listing.get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        (target / item["Key"].rsplit("/", 1)[-1]).write_bytes(body)
    return target


def _subscribe_queue(sandbox: Any) -> str:
    """An SQS queue on the topic, standing in for the people who receive the notices."""
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName="sunset-notices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sandbox.client("sns").subscribe(
        TopicArn=sandbox.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn
    )
    return str(url)


def _drain(sandbox: Any, url: str) -> list[dict[str, Any]]:
    sqs = sandbox.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _print_notices(sandbox: Any, queue: str, out: TextIO) -> None:
    notices = _drain(sandbox, queue)
    if notices:
        out.write("\nNotices sent to the topic:\n")
        for notice in notices:
            attributes = {k: v["Value"] for k, v in notice.get("MessageAttributes", {}).items()}
            out.write(f"  [{attributes.get('severity', '?'):8}] {notice.get('Subject')}\n")


def print_runs(runs: list[dict[str, str]], out: TextIO) -> None:
    """The runs table as a person reads it: newest first, restores naming what they restored."""
    if not runs:
        out.write("No runs on record.\n")
        return
    out.write(f"{'RUN':<40} {'KIND':<13} {'SERVICE':<22} {'STATUS':<12} {'STARTED':<20}\n")
    for run in runs:
        kind = "dry run" if run.get("dry_run") == "true" else run.get("kind", "decommission")
        started = run.get("started_at", "")[:19].replace("T", " ")
        note = f"  restores {run['restores']}" if run.get("restores") else ""
        out.write(
            f"{run['run_id']:<40} {kind:<13} {run.get('service', ''):<22} "
            f"{run.get('status', ''):<12} {started:<20}{note}\n"
        )


def _follow(stack: Any, machine: str, execution_input: Any, name: str, out: TextIO) -> Any:
    """Run one execution with a line of progress per state; None if it could not start."""
    from sunset.executions import ExecutionError

    out.write(f"\n{machine.capitalize()} run {name}\n")
    try:
        return stack.run(
            machine, execution_input, name=name, timeout=86_400, on_event=_Progress(out)
        )
    except (ExecutionError, ClientError) as exc:
        print(f"sunset: cannot run {machine}: {exc}", file=sys.stderr)
        return None


def _restore_in_sandbox(sandbox: Any, run_id: str, out: TextIO) -> Any:
    # As on AWS, a new endpoint is Creating for a while: the restore polls it every 2 s here.
    sandbox.endpoints.hold(polls=2)
    restore_input = {"run_id": run_id, "poll_seconds": 2, "deadline_seconds": 600}
    restore = _follow(sandbox, "recommission", restore_input, f"restore-{run_id}", out)
    if restore is not None and restore.status == "SUCCEEDED":
        out.write(f"\nRestore {restore.run_id} SUCCEEDED: the service is back, verified\n")
    return restore


def _run_in_sandbox(
    execution_input: Any,
    *,
    seed: bool,
    run_id: str | None,
    out_dir: Path,
    out: TextIO,
    restore: bool = False,
    answer: tuple[str, str | None] | None = None,
) -> int:
    from sunset.local import Sandbox
    from sunset.local.sample import seed_sample_service

    started = time.monotonic()
    with Sandbox() as sandbox:
        out.write(
            f"Sandbox ready: template.yaml deployed into moto "
            f"({time.monotonic() - started:.1f} s)\n"
        )
        if seed:
            service = seed_sample_service(sandbox.session)
            out.write(
                f"Sample service {service.name!r} seeded: {len(service.endpoints)} SageMaker "
                f"endpoints with autoscaling, 1 HTTP API, 1 REST API, 1 WebSocket API, "
                f"{len(service.volumes) + 1} EBS volumes (1 protected), 1 RDS instance, "
                f"1 Aurora cluster, {len(service.log_groups)} log groups\n"
            )
            if execution_input is None:
                # As on AWS, snapshots take a while: the run polls them every 2 s here.
                sandbox.snapshots.hold(polls=2)
                execution_input = service.request(
                    backup={"poll_seconds": 2, "deadline_seconds": 600},
                    validation={"quiet_period_seconds": 3, "grace_seconds": 0},
                )
                out.write(
                    "Snapshots stay pending for 2 polls, as they would on AWS; the shutdown is "
                    "validated after a 3 s quiet period (on AWS: 30 s of grace, then 300 s or "
                    "more)\n"
                )
        queue = _subscribe_queue(sandbox)
        name = run_id or _timestamped("run")
        if answer is not None:
            _answer_when_asked(sandbox, name, answer, out)
        run = _follow(sandbox, "decommission", execution_input, name, out)
        if run is None:
            return EXIT_RUN_FAILED
        if (run.output or {}).get("dry_run"):
            _print_plan(sandbox, name, out)
        restored = None
        if restore and run.status == "SUCCEEDED":
            _print_notices(sandbox, queue, out)
            restored = _restore_in_sandbox(sandbox, name, out)
            out.write("\nRuns on record:\n")
            print_runs(
                sandbox.runs_table().list_runs(),
                out,
            )
        _print_notices(sandbox, queue, out)
        target = _save_artifacts(sandbox, name, out_dir)
    if run.status != "SUCCEEDED":
        out.write(f"\nArtifacts: {target}/\n")
        print(f"sunset: run {name} {run.status.lower()}: {run.error}: {run.cause}", file=sys.stderr)
        return EXIT_RUN_FAILED
    output = run.output or {}
    out.write(f"\nRun {name} SUCCEEDED in {time.monotonic() - started:.1f} s\n")
    for label, count in output.get("counts", {}).items():
        out.write(f"  {label:<22} {count}\n")
    out.write(
        f"\nReport:   {target / 'report.md'}\n          {target / 'report.html'} "
        f"(in a browser: sunset report {name} --from {out_dir} --open)\n"
        f"Manifest: {target / 'manifest.json'}\nAudit:    {target / 'audit.jsonl'}\n"
    )
    if output.get("plan_uri"):
        out.write(f"Plan:     {target / 'plan.json'} (a dry run: nothing was changed)\n")
    if not restore:
        out.write(
            "\nThe sandbox ends with this command. To see the service brought back from the "
            "manifest too, add --restore (.venv/bin/sunset demo --restore). To see the plan "
            "first, with nothing changed: .venv/bin/sunset plan --input "
            "events/decommission-sample.json --sandbox\n"
        )
    if restored is not None and restored.status != "SUCCEEDED":
        print(
            f"sunset: restore {restored.run_id} {restored.status.lower()}: "
            f"{restored.error}: {restored.cause}",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    return EXIT_OK


def _stack(args: argparse.Namespace) -> Any:
    from sunset.executions import AwsStack, ExecutionError

    try:
        return AwsStack.from_cloudformation(args.stack, args.region)
    except ExecutionError as exc:
        raise SystemExit(_usage_error(str(exc))) from None


def _restore(args: argparse.Namespace, out: TextIO) -> int:
    stack = _stack(args)
    restore_input = {
        "run_id": args.run_id,
        "poll_seconds": args.poll_seconds,
        "deadline_seconds": args.deadline_seconds,
    }
    name = args.name or _timestamped(f"restore-{args.run_id}")
    run = _follow(stack, "recommission", restore_input, name, out)
    if run is None:
        return EXIT_RUN_FAILED
    return _ended(run, f"restore {name}", args.run_id, out)


def _ended(run: Any, failed_as: str, done_as: str, out: TextIO) -> int:
    """How a followed execution ended, in one line, and the exit code that says it."""
    if run.status != "SUCCEEDED":
        print(
            f"sunset: {failed_as} {run.status.lower()}: {run.error}: {run.cause}", file=sys.stderr
        )
        return EXIT_RUN_FAILED
    output = run.output or {}
    out.write(f"\n{done_as}: {output.get('status', run.status)}. Report: {output.get('report')}\n")
    return EXIT_OK


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    """Run the sandbox as a local AWS endpoint until interrupted (Ctrl-C or SIGTERM)."""
    import signal

    from sunset.local import Sandbox
    from sunset.local.sample import seed_sample_service

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with Sandbox() as sandbox:
        if not args.empty:
            service = seed_sample_service(sandbox.session)
            out.write(f"Sample service {service.name!r} seeded\n")
        try:
            server = sandbox.serve(args.port)
        except OSError as exc:
            print(f"sunset: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        endpoint = f"http://127.0.0.1:{args.port}"
        out.write("Stack outputs:\n")
        for key, value in sandbox.outputs.items():
            out.write(f"  {key:<30} {value}\n")
        out.write(
            f"Serving the sandbox at {endpoint} (Ctrl-C to stop). With any credentials, e.g.\n"
            "  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
            f"AWS_DEFAULT_REGION={sandbox.region} \\\n"
            f"  aws --endpoint-url {endpoint} stepfunctions start-execution \\\n"
            f"    --state-machine-arn {sandbox.outputs['DecommissionStateMachineArn']} \\\n"
            "    --name my-run --input file://events/decommission-minimal.json\n"
        )
        out.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            out.write("Stopped.\n")
        finally:
            server.stop()
    return EXIT_OK


def _start(args: argparse.Namespace, out: TextIO) -> int:
    from sunset.executions import ExecutionError
    from sunset.request import parse_request

    execution_input = _read_input(args.input)
    try:
        # Refused here, before anything starts; Prepare would refuse it the same way.
        parse_request(execution_input)
    except InvalidRequest as exc:
        return _usage_error(f"{args.input}: {exc}")
    stack = _stack(args)
    name = args.name or _timestamped("run")
    try:
        arn = stack.start("decommission", execution_input, name=name)
    except (ExecutionError, ClientError) as exc:
        print(f"sunset: cannot start the decommission: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    out.write(f"Started {name}\n  execution: {arn}\n")
    if not args.watch:
        out.write(f"  follow it: sunset watch {name} --stack {args.stack}\n")
        return EXIT_OK
    return _watch(args, out, run_id=name)


def _print_plan(stack: Any, name: str, out: TextIO) -> str | None:
    """Print dry run `name`'s plan as a table; the reason when it cannot be read, else None.

    A dry run that failed half-way still shows what it had planned by then; one refused in
    Prepare has no manifest, and nothing to show."""
    from sunset.artifacts import ArtifactStore
    from sunset.plan import build_plan, plan_table

    store = ArtifactStore(stack.client("s3"), stack.outputs["ArtifactsBucketName"])
    try:
        manifest = store.load_manifest(name)
    except ManifestError as exc:
        return str(exc)
    if manifest.inventory is not None:
        out.write("\n" + plan_table(build_plan(manifest)))
    return None


def _print_plans(stack: Any, planned_input: Any, name: str, out: TextIO) -> str | None:
    """Print the dry run's plan, or with targets, the plan of each target's run."""
    from sunset.request import parse_request, target_run_id

    targets = parse_request(planned_input).targets
    if targets is None:
        return _print_plan(stack, name, out)
    first: str | None = None
    for target in targets:
        out.write(f"\nIn account {target.account}, Region {target.region}:\n")
        unreadable = _print_plan(stack, target_run_id(name, target), out)
        if unreadable is not None:
            out.write(f"  no plan: {unreadable}\n")
            first = first or unreadable
    return first


def _plan_on(stack: Any, planned_input: Any, name: str, out: TextIO) -> int:
    """Run the dry run on `stack` (deployed or sandbox) and print its plan as a table."""
    run = _follow(stack, "decommission", planned_input, name, out)
    if run is None:
        return EXIT_RUN_FAILED
    unreadable = _print_plans(stack, planned_input, name, out)
    if run.status != "SUCCEEDED":
        print(
            f"sunset: the dry run {name} failed, so a real run would fail too: "
            f"{run.error}: {run.cause}",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    if unreadable is not None:
        print(f"sunset: {unreadable}", file=sys.stderr)
        return EXIT_RUN_FAILED
    output = run.output or {}
    # A run with targets: its record lists each target run's report.
    where = output.get("report") or output.get("result", {}).get("outcome", {}).get("record")
    out.write(f"\nNothing was changed. Report: {where}\n")
    return EXIT_OK


def _plan(args: argparse.Namespace, out: TextIO) -> int:
    """A dry run of the input, on a deployed stack or in the sandbox, printed as a plan."""
    from sunset.request import parse_request

    if args.empty and not args.sandbox:
        return _usage_error("--empty goes with --sandbox: a deployed stack is never seeded")
    execution_input = _read_input(args.input)
    try:
        # The input as written first: a wrong dry_run is named, not overwritten.
        parse_request(execution_input)
    except InvalidRequest as exc:
        return _usage_error(f"{args.input}: {exc}")
    if execution_input.get("dry_run") is False:
        print(f"sunset: {args.input} says dry_run: false; a plan is a dry run", file=sys.stderr)
    execution_input = {**execution_input, "dry_run": True}
    name = args.name or _timestamped("plan")
    if not args.sandbox:
        return _plan_on(_stack(args), execution_input, name, out)
    from sunset.local import Sandbox
    from sunset.local.sample import seed_sample_service

    with Sandbox() as sandbox:
        if not args.empty:
            service = seed_sample_service(sandbox.session)
            out.write(f"Sandbox: sample service {service.name!r} seeded\n")
        return _plan_on(sandbox, execution_input, name, out)


def _watch(args: argparse.Namespace, out: TextIO, run_id: str | None = None) -> int:
    from sunset.executions import ExecutionError

    stack = _stack(args)
    run_id = run_id or args.run_id
    try:
        machine, arn = stack.find(run_id)
        out.write(f"\n{machine.capitalize()} run {run_id}\n")
        run = stack.wait(arn, timeout=args.timeout, on_event=_Progress(out))
    except (ExecutionError, ClientError) as exc:
        print(f"sunset: cannot follow {run_id}: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return _ended(run, run_id, run_id, out)


def _schedule(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import UTC

    from sunset import schedules

    execution_input = _read_input(args.input) if args.command == "schedule" else None
    stack = _stack(args)
    scheduler = stack.client("scheduler")
    try:
        if args.command == "schedule":
            planned = schedules.create(
                scheduler,
                stack.outputs,
                execution_input,
                args.at,
                args.tz,
                now=datetime.now(UTC),
                name=args.name,
            )
            out.write(
                f"Scheduled {planned.name}: decommission {planned.service} {planned.expression} "
                f"{planned.timezone}\n  remove it: sunset unschedule {planned.name}\n"
            )
        elif args.command == "unschedule":
            schedules.delete(scheduler, stack.outputs, args.name)
            out.write(f"Deleted schedule {args.name}\n")
        else:
            planned_all = schedules.list_planned(scheduler, stack.outputs)
            for p in planned_all:
                out.write(f"{p.name:<40} {p.service:<24} {p.expression} {p.timezone} {p.state}\n")
            if not planned_all:
                out.write("No planned shutdowns.\n")
    except InvalidRequest as exc:
        return _usage_error(str(exc))
    except KeyError as exc:
        return _usage_error(f"stack {args.stack!r} has no output {exc}: deploy this version")
    except ClientError as exc:
        print(f"sunset: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from sunset.executions import ExecutionError

    stack = _stack(args)
    try:
        status = stack.status(args.run_id)
    except (ExecutionError, ClientError) as exc:
        print(f"sunset: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    output = status.output or {}
    lines = [
        f"{status.run_id}: {status.machine} {output.get('status') or status.status}",
        f"  execution  {status.execution_arn}",
        f"  started    {status.started_at:%Y-%m-%d %H:%M:%S %Z}",
    ]
    if status.stopped_at is not None:
        lines.append(f"  ended      {status.stopped_at:%Y-%m-%d %H:%M:%S %Z}")
    if status.current_state:
        lines.append(f"  now in     {status.current_state}")
    if status.waiting_for_approval:
        lines.append(
            f"  waiting for a person: sunset approve {status.run_id} --by NAME, or sunset "
            f'reject {status.run_id} --by NAME --reason "..."'
        )
    if status.error:
        lines.append(f"  failed     {status.error}: {status.cause}")
    if output.get("report"):
        lines.append(f"  report     {output['report']}")
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def _runs(args: argparse.Namespace, out: TextIO) -> int:
    stack = _stack(args)
    try:
        runs = stack.runs_table().list_runs()
    except ClientError as exc:
        print(f"sunset: cannot read the runs table: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print_runs(runs[: args.limit], out)
    return EXIT_OK


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from botocore.exceptions import BotoCoreError

    from sunset.postmortem import ReportNotFound, fetch_from_bucket, read_from_folder

    try:
        if args.source is not None:
            report = read_from_folder(Path(args.source), args.run_id)
        else:
            stack = _stack(args)
            bucket = stack.outputs.get("ArtifactsBucketName")
            if bucket is None:
                return _usage_error(f"stack {args.stack!r} has no output ArtifactsBucketName")
            report = fetch_from_bucket(stack.client("s3"), bucket, args.run_id)
    except (ReportNotFound, ManifestError) as exc:
        print(f"sunset: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except (ClientError, BotoCoreError) as exc:
        print(f"sunset: cannot read the run's report: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    if report.note:
        print(f"sunset: {report.note}", file=sys.stderr)
    if not args.open:
        out.write(report.markdown)
        return EXIT_OK
    page = report.save_html(Path(args.out) / args.run_id)
    import webbrowser

    if webbrowser.open(page.resolve().as_uri()):
        out.write(f"Opened {page}\n")
    else:
        out.write(f"No browser to open it here; the report is at {page}\n")
    return EXIT_OK


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    from sunset import schema

    if args.write is None:
        out.write(json.dumps({name: schema.input_schema(name) for name in schema.MODELS}, indent=2))
        out.write("\n")
        return EXIT_OK
    for path in schema.write_all(Path(args.write)):
        out.write(f"wrote {path}\n")
    return EXIT_OK


def _answer_when_asked(
    sandbox: Any, run_id: str, answer: tuple[str, str | None], out: TextIO
) -> None:
    """The sandbox lives in this process only, so its approvals are answered from here: once
    the run asks, answer as `sunset approve` / `sunset reject` would on a deployed stack."""
    import threading

    by, reason = answer

    def respond() -> None:
        try:
            sandbox.wait_for_approval_request(run_id, timeout=600)
            if reason is None:
                done = sandbox.approve(run_id, by=by)
            else:
                done = sandbox.reject(run_id, by=by, reason=reason)
            out.write(f"  (answered the approval request: {done})\n")
        except Exception as exc:  # the run's own outcome says the rest
            out.write(f"  (could not answer the approval request: {exc})\n")

    threading.Thread(target=respond, name="sandbox-approval", daemon=True).start()


def _decide(args: argparse.Namespace, out: TextIO) -> int:
    stack = _stack(args)
    try:
        if args.command == "approve":
            done = stack.approve(args.run_id, by=args.by, comment=args.comment)
        else:
            done = stack.reject(args.run_id, by=args.by, reason=args.reason)
    except InvalidRequest as exc:
        print(f"sunset: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as exc:
        print(f"sunset: cannot answer the approval: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    out.write(done + "\n")
    return EXIT_OK


# The commands that take their parsed arguments and an output stream; demo and run, which set
# up a sandbox run, are dispatched in main.
COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "sandbox": _serve,
    "start": _start,
    "plan": _plan,
    "status": _status,
    "watch": _watch,
    "schedule": _schedule,
    "schedules": _schedule,
    "unschedule": _schedule,
    "restore": _restore,
    "runs": _runs,
    "report": _report,
    "schema": _schema,
    "approve": _decide,
    "reject": _decide,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sunset", description="Decommission an AI service on AWS safely (sandbox commands)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="decommission the sample AI service in the sandbox")
    demo.add_argument(
        "--out", default="out", help="where to copy the run's artifacts (default: out/)"
    )
    demo.add_argument("--restore", action="store_true", help="then bring the service back")
    run = commands.add_parser("run", help="decommission in the sandbox with your own input")
    run.add_argument("--input", required=True, help="execution input, a JSON file (see events/)")
    run.add_argument("--name", help="run id (execution name); default run-<timestamp>")
    run.add_argument("--empty", action="store_true", help="do not seed the sample service first")
    run.add_argument("--out", default="out", help="where to copy the run's artifacts")
    run.add_argument("--restore", action="store_true", help="then bring the service back")
    run.add_argument(
        "--approve-as", metavar="NAME", help="if the run asks for approval, approve it as NAME"
    )
    run.add_argument(
        "--reject",
        nargs=2,
        metavar=("NAME", "REASON"),
        help="if the run asks for approval, reject it as NAME with REASON",
    )
    sandbox_cmd = commands.add_parser("sandbox", help="the sandbox as a local AWS endpoint")
    sandbox_verbs = sandbox_cmd.add_subparsers(dest="verb", required=True)
    serve = sandbox_verbs.add_parser("serve", help="answer the AWS API on 127.0.0.1:PORT")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--empty", action="store_true", help="do not seed the sample service")
    start = commands.add_parser("start", help="start a decommission on a deployed stack")
    start.add_argument("--input", required=True, help="execution input, a JSON file (see events/)")
    start.add_argument("--name", help="run id (execution name); default run-<timestamp>")
    start.add_argument("--watch", action="store_true", help="then follow it to its end")
    plan = commands.add_parser(
        "plan", help="dry-run a decommission: what it would do, nothing changed"
    )
    plan.add_argument("--input", required=True, help="execution input, a JSON file (see events/)")
    plan.add_argument("--name", help="run id of the dry run; default plan-<timestamp>")
    plan.add_argument(
        "--sandbox", action="store_true", help="plan in the sandbox, on the sample service"
    )
    plan.add_argument("--empty", action="store_true", help="with --sandbox: no sample service")
    status = commands.add_parser("status", help="where a run or restore on a deployed stack is")
    status.add_argument("run_id")
    watch = commands.add_parser("watch", help="follow a run or restore to its end")
    watch.add_argument("run_id")
    for follows in (start, watch):
        follows.add_argument(
            "--timeout", type=float, default=86_400, help="stop following after this many s"
        )
    schedule = commands.add_parser(
        "schedule", help="plan a one-time decommission with EventBridge Scheduler"
    )
    schedule.add_argument("--input", required=True, help="execution input, a JSON file")
    schedule.add_argument("--at", required=True, help="local date and time: 2026-12-01T22:00")
    schedule.add_argument("--tz", default="UTC", help="the zone --at is in (Europe/Paris)")
    schedule.add_argument("--name", help="schedule name; default sunset-<service>-<time>")
    listed = commands.add_parser("schedules", help="list a deployed stack's planned shutdowns")
    unschedule = commands.add_parser("unschedule", help="delete a planned shutdown")
    unschedule.add_argument("name")
    restore = commands.add_parser(
        "restore", help="recommission a run's service on a deployed stack"
    )
    restore.add_argument("run_id", help="the decommission run to bring back")
    restore.add_argument("--name", help="the restore's execution name")
    restore.add_argument("--poll-seconds", type=int, default=30)
    restore.add_argument("--deadline-seconds", type=int, default=3_600)
    runs = commands.add_parser("runs", help="list a deployed stack's runs and their state")
    runs.add_argument("--limit", type=int, default=50)
    approve = commands.add_parser("approve", help="approve a run that waits for approval")
    approve.add_argument("run_id")
    approve.add_argument("--by", required=True, help="who approves (recorded in the audit)")
    approve.add_argument("--comment", help="a note kept with the approval")
    reject = commands.add_parser("reject", help="reject a run that waits for approval")
    reject.add_argument("run_id")
    reject.add_argument("--by", required=True, help="who rejects (recorded in the audit)")
    reject.add_argument("--reason", required=True, help="why: sent in the CANCELLED notice")
    report = commands.add_parser("report", help="show a run's post-mortem report")
    report.add_argument("run_id")
    report.add_argument(
        "--open", action="store_true", help="open report.html in a browser instead of printing"
    )
    report.add_argument(
        "--from",
        dest="source",
        metavar="DIR",
        help="read the artifacts a sandbox run copied to DIR/RUN_ID (e.g. out) instead of a stack",
    )
    report.add_argument(
        "--out", default="out", help="where --open saves a fetched report.html (default: out/)"
    )
    schema = commands.add_parser("schema", help="print the execution inputs' JSON Schema")
    schema.add_argument("--write", metavar="DIR", help="write <name>.schema.json files to DIR")
    for deployed in (
        start,
        plan,
        status,
        watch,
        schedule,
        listed,
        unschedule,
        restore,
        runs,
        approve,
        reject,
        report,
    ):
        deployed.add_argument("--stack", default="sunset", help="CloudFormation stack name")
        deployed.add_argument("--region", help="AWS region (default: your AWS configuration)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return _run_in_sandbox(
            None,
            seed=True,
            run_id=None,
            out_dir=Path(args.out),
            out=sys.stdout,
            restore=args.restore,
        )
    command = COMMANDS.get(args.command)
    if command is not None:
        return command(args, sys.stdout)
    execution_input = _read_input(args.input)
    answer: tuple[str, str | None] | None = None
    if args.approve_as:
        answer = (args.approve_as, None)
    elif args.reject:
        answer = (args.reject[0], args.reject[1])
    return _run_in_sandbox(
        execution_input,
        seed=not args.empty,
        run_id=args.name,
        out_dir=Path(args.out),
        out=sys.stdout,
        restore=args.restore,
        answer=answer,
    )


if __name__ == "__main__":
    sys.exit(main())
