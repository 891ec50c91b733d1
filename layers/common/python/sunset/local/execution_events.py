"""Step Functions' "Execution Status Change" events, delivered to EventBridge rules' Lambdas.

On AWS, every execution that ends emits an event (source aws.states), and Sunset's
AbandonedRunRule sends those of stopped and timed-out executions to AbandonedRunFunction. moto
emits no such event, and its EventBridge cannot invoke a Lambda target. While the sandbox runs,
this does both: when an execution of moto's interpreter ends, the event is built as AWS builds
it and every rule of the default bus whose pattern matches (moto's own matcher) has its Lambda
targets invoked, in-process like every other sandbox invocation.

One difference, on purpose: the event is delivered before the execution's status changes, not
after. Whoever waits for the execution to end (a test, `sunset run`) then sees what the rule's
function did, instead of racing it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "Step Functions Execution Status Change"


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class ExecutionStatusEvents:
    def __init__(self, client: Any) -> None:
        """`client(service)`: a boto3 client on the sandbox."""
        self._client = client
        self._saved: Any = None
        # Each delivery that failed (a function error, an exception), for tests to check: on
        # AWS it would go to the rule's dead-letter queue, and here nobody else would see it.
        self.failures: list[str] = []

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.eval.program_state import (
            ProgramEnded,
            ProgramError,
            ProgramStopped,
            ProgramTimedOut,
        )
        from moto.stepfunctions.parser.backend.execution import (
            BaseExecutionWorkerCommunication,
        )

        statuses = (
            (ProgramEnded, "SUCCEEDED"),
            (ProgramStopped, "ABORTED"),
            (ProgramError, "FAILED"),
            (ProgramTimedOut, "TIMED_OUT"),
        )
        original = BaseExecutionWorkerCommunication.terminated
        self._saved = original
        deliver = self._deliver

        def terminated(communication: Any) -> None:
            execution = communication.execution
            state = execution.exec_worker.env.program_state()
            status = next((name for kind, name in statuses if isinstance(state, kind)), None)
            if status is not None:
                error = state.error if isinstance(state, ProgramError) else None
                try:
                    deliver(execution, status, dict(error or {}))
                except Exception as exc:  # noqa: BLE001 - the execution must still end
                    self.failures.append(f"{execution.name}: {type(exc).__name__}: {exc}")
                finally:
                    original(communication)
            else:
                original(communication)

        BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.backend.execution import (
            BaseExecutionWorkerCommunication,
        )

        if self._saved is not None:
            BaseExecutionWorkerCommunication.terminated = self._saved  # type: ignore[method-assign]
            self._saved = None

    def _deliver(self, execution: Any, status: str, error: dict[str, Any]) -> None:
        from moto.events.models import events_backends

        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": "aws.states",
            "account": execution.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": execution.region_name,
            "resources": [execution.exec_arn],
            "detail": {
                "executionArn": execution.exec_arn,
                "stateMachineArn": execution.state_machine.arn,
                "name": execution.name,
                "status": status,
                "startDate": _millis(execution.start_date),
                "stopDate": _millis(datetime.now(UTC)),
                "input": json.dumps(execution.input_data),
                "output": None,
                "error": error.get("error"),
                "cause": error.get("cause"),
            },
        }
        backend = events_backends[execution.account_id][execution.region_name]
        bus = backend.event_buses.get("default")
        for rule in list(bus.rules.values()) if bus is not None else []:
            # A rule with no pattern is a scheduled rule: moto's matcher would say it matches.
            pattern = rule.event_pattern
            if rule.state != "ENABLED" or not pattern.get_pattern():
                continue
            if not pattern.matches_event(event):  # type: ignore[arg-type]
                continue
            for target in rule.targets:
                if ":lambda:" not in target["Arn"]:
                    continue
                answer = self._client("lambda").invoke(
                    FunctionName=target["Arn"], Payload=json.dumps(event).encode()
                )
                if "FunctionError" in answer:
                    body = answer["Payload"].read().decode("utf-8", "replace")
                    self.failures.append(f"{execution.name}: {target['Arn']}: {body[:2000]}")
