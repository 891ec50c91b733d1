"""The run manifest: what the service was made of, what was backed up, what was done.

The manifest is the checkpoint every destructive phase stands on and what a restore reads, so it
is validated by this model both when it is written and when it is read back
(`runs/<run_id>/manifest.json`). Captured configuration is kept as the AWS describe output,
verbatim, so that nothing a restore needs is lost to a summarising model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sunset.request import CheckName, DecommissionRequest

SCHEMA_VERSION: Literal[1] = 1
# The phases whose changes take something away; everything before them only reads or copies.
REMOVAL_PHASES = frozenset({"Remove API routes", "Stop endpoints"})
PROTECT_TAG = "sunset:protect"

ResourceKind = Literal[
    "sagemaker-endpoint",
    "http-api",
    "rest-api",
    "ebs-volume",
    "rds-instance",
    "rds-cluster",
    "log-group",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProtectedResource(_Record):
    """A resource that matched the service but carries sunset:protect=true: never touched."""

    kind: ResourceKind
    resource_id: str


class NotHandled(_Record):
    """A resource of the service that Sunset does not act on (say, a WebSocket API): people are
    told about it, so that nobody believes it was shut down."""

    kind: str
    resource_id: str
    reason: str


class EndpointRecord(_Record):
    name: str
    arn: str
    status: str
    endpoint_config_name: str
    variant_names: list[str]
    model_names: list[str]


class HttpApiRecord(_Record):
    api_id: str
    name: str
    api_endpoint: str | None = None
    route_keys: list[str]


class RestApiRecord(_Record):
    api_id: str
    name: str
    stage_names: list[str]
    methods: list[str] = Field(description="'VERB /path' for every method of the API")


class VolumeRecord(_Record):
    volume_id: str
    size_gib: int
    volume_type: str
    availability_zone: str
    encrypted: bool
    kms_key_id: str | None = None
    state: str


def _custom(group: str | None) -> str | None:
    """A parameter or option group worth naming: the engine's default ones ("default.postgres16",
    "default:postgres-16") are what a restore gets anyway, and may not be named across versions."""
    return group if group and not group.startswith("default") else None


class DbInstanceRecord(_Record):
    identifier: str
    arn: str
    engine: str
    status: str
    allocated_storage_gib: int
    encrypted: bool
    kms_key_id: str | None = None
    instance_class: str | None = None
    subnet_group: str | None = None
    security_groups: list[str] = Field(default_factory=list)
    parameter_group: str | None = None
    option_group: str | None = None

    def placement(self) -> dict[str, Any]:
        """Where a copy restored from this instance's snapshot belongs (restore tests)."""
        placement: dict[str, Any] = {
            "DBSubnetGroupName": self.subnet_group,
            "DBParameterGroupName": _custom(self.parameter_group),
            "OptionGroupName": _custom(self.option_group),
            "VpcSecurityGroupIds": self.security_groups or None,
        }
        return {key: value for key, value in placement.items() if value}


class DbClusterRecord(_Record):
    identifier: str
    arn: str
    engine: str
    status: str
    encrypted: bool
    kms_key_id: str | None = None
    members: list[str]
    member_instance_class: str | None = None
    subnet_group: str | None = None
    security_groups: list[str] = Field(default_factory=list)
    parameter_group: str | None = None

    def placement(self) -> dict[str, Any]:
        placement: dict[str, Any] = {
            "DBSubnetGroupName": self.subnet_group,
            "DBClusterParameterGroupName": _custom(self.parameter_group),
            "VpcSecurityGroupIds": self.security_groups or None,
        }
        return {key: value for key, value in placement.items() if value}


class LogGroupRecord(_Record):
    name: str
    arn: str


class Impact(_Record):
    """Recent traffic, so the announcement can say how many people a shutdown touches."""

    window_days: int
    endpoint_invocations: dict[str, float] = Field(default_factory=dict)
    api_requests: dict[str, float] = Field(default_factory=dict)

    @property
    def total_invocations(self) -> float:
        return sum(self.endpoint_invocations.values())

    @property
    def total_api_requests(self) -> float:
        return sum(self.api_requests.values())


class Inventory(_Record):
    endpoints: list[EndpointRecord] = Field(default_factory=list)
    http_apis: list[HttpApiRecord] = Field(default_factory=list)
    rest_apis: list[RestApiRecord] = Field(default_factory=list)
    volumes: list[VolumeRecord] = Field(default_factory=list)
    db_instances: list[DbInstanceRecord] = Field(default_factory=list)
    db_clusters: list[DbClusterRecord] = Field(default_factory=list)
    log_groups: list[LogGroupRecord] = Field(default_factory=list)
    protected: list[ProtectedResource] = Field(default_factory=list)
    not_handled: list[NotHandled] = Field(default_factory=list)
    impact: Impact | None = None
    endpoint_configs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="DescribeEndpointConfig as discovery read it, by name. Endpoint configs "
        "are immutable: Back up captures the config an endpoint still runs from here",
    )

    def counts(self) -> dict[str, int]:
        """How many resources of each kind Sunset will act on (protected ones excluded)."""
        return {
            "SageMaker endpoints": len(self.endpoints),
            "HTTP APIs": len(self.http_apis),
            "REST APIs": len(self.rest_apis),
            "EBS volumes": len(self.volumes),
            "RDS instances": len(self.db_instances),
            "Aurora clusters": len(self.db_clusters),
            "Log groups": len(self.log_groups),
        }

    def total(self) -> int:
        return sum(self.counts().values())

    def backed_up_resources(self) -> list[tuple[ResourceKind, str]]:
        """Every in-scope resource whose backup must be verified before anything is removed."""
        resources: list[tuple[ResourceKind, str]] = []
        resources += [("sagemaker-endpoint", e.name) for e in self.endpoints]
        resources += [("http-api", a.api_id) for a in self.http_apis]
        resources += [("rest-api", a.api_id) for a in self.rest_apis]
        resources += [("ebs-volume", v.volume_id) for v in self.volumes]
        resources += [("rds-instance", d.identifier) for d in self.db_instances]
        resources += [("rds-cluster", c.identifier) for c in self.db_clusters]
        return resources


SnapshotKind = Literal["ebs", "rds-instance", "rds-cluster"]
# Which resource kind each snapshot kind backs up.
SNAPSHOT_SOURCE_KIND: dict[str, ResourceKind] = {
    "ebs": "ebs-volume",
    "rds-instance": "rds-instance",
    "rds-cluster": "rds-cluster",
}


# The call that snapshots each kind of resource, as the journal records it (the resource is the
# source's id): a dry run's plan names it as the backup that comes before any change.
SNAPSHOT_ACTION: dict[ResourceKind, str] = {
    "ebs-volume": "ec2:CreateSnapshot",
    "rds-instance": "rds:CreateDBSnapshot",
    "rds-cluster": "rds:CreateDBClusterSnapshot",
}


class SnapshotRecord(_Record):
    kind: SnapshotKind
    snapshot_id: str
    source_id: str
    status: str
    created_at: datetime
    completed_at: datetime | None = None


class Check(_Record):
    """One comparison made while verifying a backup: what was expected, what was found."""

    name: str
    expected: Any
    actual: Any
    ok: bool

    @classmethod
    def compare(cls, name: str, expected: Any, actual: Any) -> Check:
        """A check that passes when what was found equals what was expected."""
        return cls(name=name, expected=expected, actual=actual, ok=expected == actual)

    def describe(self) -> str:
        """Short: 'ok', or what was expected and found."""
        if self.ok:
            return f"{self.name}: ok"
        return f"{self.name}: expected {self.expected!r}, found {self.actual!r}"

    def evidence(self) -> str:
        """Complete: the values compared, whatever the verdict (for the audit trail)."""
        verdict = "ok" if self.ok else "MISMATCH"
        return f"{self.name}: expected {self.expected!r}, found {self.actual!r} ({verdict})"


CAPTURED = "captured configuration"


class Verification(_Record):
    """The verdict on one resource's backup, with every comparison that led to it."""

    kind: ResourceKind
    resource_id: str
    backup: str = Field(description="the snapshot id, or 'captured configuration'")
    checks: list[Check]
    at: datetime

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


class RestoreTest(_Record):
    """A throw-away copy made from a snapshot to prove it restores (backup.restore_test)."""

    kind: SnapshotKind
    snapshot_id: str
    source_id: str
    restored_id: str
    instance_id: str | None = Field(default=None, description="Aurora: the copy's one instance")
    status: str
    started_at: datetime
    result: Literal["running", "passed", "failed"] = "running"
    cleaned_up: bool = False


class EndpointCapture(_Record):
    """Everything needed to bring an endpoint back exactly as it was."""

    endpoint: dict[str, Any]
    endpoint_config: dict[str, Any]
    models: list[dict[str, Any]]
    # DescribeEndpoint has no tags, yet discovery finds a service's endpoints by them: an
    # endpoint brought back without its tags would be invisible to the next run.
    tags: dict[str, str] = Field(default_factory=dict)
    scalable_targets: list[dict[str, Any]] = Field(default_factory=list)
    scaling_policies: list[dict[str, Any]] = Field(default_factory=list)


class HttpApiCapture(_Record):
    api: dict[str, Any]
    routes: list[dict[str, Any]]
    integrations: list[dict[str, Any]]
    authorizers: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    api_mappings: list[dict[str, Any]] = Field(
        default_factory=list, description="custom domain mappings, each with its DomainName"
    )


class RestApiCapture(_Record):
    api: dict[str, Any]
    resources: list[dict[str, Any]] = Field(description="get_resources with methods embedded")
    stages: list[dict[str, Any]]


class Backups(_Record):
    snapshots: list[SnapshotRecord] = Field(default_factory=list)
    endpoints: dict[str, EndpointCapture] = Field(default_factory=dict)
    http_apis: dict[str, HttpApiCapture] = Field(default_factory=dict)
    rest_apis: dict[str, RestApiCapture] = Field(default_factory=dict)
    verifications: dict[str, Verification] = Field(
        default_factory=dict, description="keyed '<resource kind>:<resource id>'"
    )
    restore_tests: list[RestoreTest] = Field(default_factory=list)

    def snapshot_for(self, kind: str, source_id: str) -> SnapshotRecord | None:
        return next(
            (s for s in self.snapshots if s.kind == kind and s.source_id == source_id), None
        )

    def verification_for(self, kind: ResourceKind, resource_id: str) -> Verification | None:
        return self.verifications.get(f"{kind}:{resource_id}")

    def record_verification(self, verification: Verification) -> None:
        self.verifications[f"{verification.kind}:{verification.resource_id}"] = verification


ActionResult = Literal["ok", "failed", "skipped", "planned"]


class Action(_Record):
    """One change Sunset made (or tried, or decided not to make, or in a dry run would make:
    `planned`); the audit trail has the same."""

    at: datetime
    phase: str
    action: str
    resource: str
    result: ActionResult
    request_id: str | None = None
    detail: str | None = None

    @property
    def is_aws_change(self) -> bool:
        """A call that changes AWS (named `service:Operation`) or sends a notice: what the
        Journal makes, and what a dry run plans instead of making."""
        return self.action.startswith("notify ") or ":" in self.action.split(" ", 1)[0]

    @property
    def is_planned_change(self) -> bool:
        """A change a dry run would have made."""
        return self.result == "planned" and self.is_aws_change

    @property
    def is_removal(self) -> bool:
        """A change that took something away (a route, an endpoint, a running database)."""
        return self.phase in REMOVAL_PHASES and not self.action.startswith("notify")


def removals(actions: list[Action]) -> list[Action]:
    """The changes that took something away and worked: what a restore has to bring back."""
    return [a for a in actions if a.is_removal and a.result == "ok"]


def succeeded(actions: list[Action], action: str, resource: str) -> bool:
    """Whether `action` on `resource` is on record as done (an earlier attempt made it)."""
    return any(a.action == action and a.resource == resource and a.result == "ok" for a in actions)


class LogFinding(_Record):
    """A log line that counts against the shutdown: an error line during the run, or a request
    served after the cut-off."""

    log_group: str
    pattern: str = Field(description="the error pattern matched, or why the line is a request")
    timestamp: datetime
    message: str
    kind: Literal["error", "request"] = "error"


class LogCheck(_Record):
    window_start: datetime
    window_end: datetime
    log_groups: list[str]
    patterns: list[str]
    events_scanned: int
    findings: list[LogFinding]
    truncated: bool = Field(description="True when more was there than was read or kept")
    unreadable: list[str] = Field(default_factory=list, description="groups that could not be read")


class Evidence(_Record):
    """One question the Validate phase asked, the answer that came back, and the verdict."""

    check: CheckName
    subject: str = Field(description="what was checked: a resource, an invoke URL, a metric")
    asked: str = Field(description="the call or request that was made")
    answer: str = Field(description="what came back")
    passed: bool
    at: datetime


class ShutdownValidation(_Record):
    """The Validate phase's proof that the service is down (or that it is not)."""

    checks: list[CheckName]
    access_cut_at: datetime | None = Field(description="when Remove API routes ended")
    compute_stopped_at: datetime = Field(description="when Stop endpoints ended")
    quiet_until: datetime = Field(description="the end of the quiet period the traffic check reads")
    checks_at: datetime | None = Field(
        default=None, description="when the checks run: the quiet period, then CloudWatch's delay"
    )
    deadline: datetime = Field(description="when endpoints still deleting count as running")
    polls: int = 0
    waiting_for: list[str] = Field(default_factory=list, description="why the last poll waited")
    evidence: list[Evidence] = Field(default_factory=list)
    skipped: dict[str, str] = Field(
        default_factory=dict, description="a check that was asked for but could not run, and why"
    )
    settled_at: datetime | None = None

    def failures(self) -> list[Evidence]:
        return [item for item in self.evidence if not item.passed]

    def verdicts(self) -> dict[str, str]:
        """Each check asked for: 'passed', 'FAILED', 'partly checked' (some of it could not
        run), 'not checked' (none of it could), or 'not run' (the checks never ran)."""
        verdicts: dict[str, str] = {}
        for name in self.checks:
            answers = [item for item in self.evidence if item.check == name]
            if self.settled_at is None:
                verdicts[name] = "not run"
            elif any(not item.passed for item in answers):
                verdicts[name] = "FAILED"
            elif not answers:
                verdicts[name] = "not checked"
            else:
                verdicts[name] = "partly checked" if name in self.skipped else "passed"
        return verdicts

    @property
    def proven(self) -> bool:
        """The checks ran, gave answers, and none found the service alive."""
        return self.settled_at is not None and bool(self.evidence) and not self.failures()


class PhaseRecord(_Record):
    name: str
    started_at: datetime
    ended_at: datetime | None = None
    status: Literal["running", "succeeded", "failed"]


class Incident(_Record):
    failed_step: str
    error: str
    cause: str
    at: datetime


RestoreMode = Literal["recommission", "rollback"]


class RestoreRecord(_Record):
    """One restore of this run's service: a recommission asked for later, or the automatic
    rollback of a run that failed after it had removed something."""

    restore_id: str = Field(description="the restoring execution's name (the run id on rollback)")
    mode: RestoreMode
    started_at: datetime
    ended_at: datetime | None = None
    outcome: Literal["running", "restored", "failed"] = "running"
    restored: list[str] = Field(default_factory=list, description="what was brought back")
    checks: list[Check] = Field(default_factory=list, description="the service answers again")
    recreated: dict[str, str] = Field(
        default_factory=dict,
        description="'<api>/<kind>/<captured id>' -> the id of what was re-created in its place",
    )
    failure: str | None = None

    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


class Manifest(_Record):
    """Schema v1 of runs/<run_id>/manifest.json; see docs/manifest.md."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str
    service: str
    request: DecommissionRequest
    started_at: datetime
    cutoff: datetime | None = Field(
        default=None, description="when the notice period ended and the shutdown could start"
    )
    lock: str | None = Field(
        default=None,
        description="the runs table lock the run took: the service's name, or "
        "service@account/region for a target outside Sunset's own account and Region "
        "(none on record: the service's name)",
    )
    ended_at: datetime | None = None
    outcome: Literal["running", "succeeded", "failed", "rolled_back", "cancelled"] = "running"
    phases: list[PhaseRecord] = Field(default_factory=list)
    inventory: Inventory | None = None
    backups: Backups = Field(default_factory=Backups)
    actions: list[Action] = Field(default_factory=list)
    log_check: LogCheck | None = None
    validation: ShutdownValidation | None = None
    incident: Incident | None = None
    restores: list[RestoreRecord] = Field(default_factory=list)

    def restore(self, restore_id: str) -> RestoreRecord:
        """The record of a restore in progress (begun by Begin restore or Begin rollback)."""
        from sunset.errors import ManifestError

        found = next((r for r in reversed(self.restores) if r.restore_id == restore_id), None)
        if found is None:
            raise ManifestError(f"run {self.run_id} has no restore {restore_id} on record")
        return found

    @property
    def lock_name(self) -> str:
        """The lock the run took, and that its recommission takes."""
        return self.lock or self.service

    def phase_started(self, name: str) -> datetime | None:
        return next((p.started_at for p in self.phases if p.name == name), None)

    def phase_ended(self, name: str) -> datetime | None:
        """When the phase last ended successfully, or None."""
        ended = [p.ended_at for p in self.phases if p.name == name and p.status == "succeeded"]
        return ended[-1] if ended else None

    def require_inventory(self) -> Inventory:
        from sunset.errors import ManifestError

        if self.inventory is None:
            raise ManifestError(f"run {self.run_id} has no inventory: Discover has not run")
        return self.inventory
