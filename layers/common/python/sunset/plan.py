"""The plan a dry run ends with: per resource, the backup that comes first and the changes after.

A dry run runs every step of the real state machine with the Journal recording each change as
`planned` instead of making it (sunset.journal). The plan is read back from those entries, so it
says exactly what the same code would have called: `changes_made` reads a real run's manifest
the same way, and the two lists can be compared entry for entry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sunset.manifest import (
    CAPTURED,
    SNAPSHOT_ACTION,
    Action,
    Inventory,
    Manifest,
    ResourceKind,
)


class PlannedChange(BaseModel):
    action: str = Field(description="the AWS call, as the audit trail names it")
    resource: str


class PlannedResource(BaseModel):
    kind: ResourceKind
    resource_id: str
    backup: str = Field(description="what is kept before anything changes, and its state now")
    backup_changes: list[PlannedChange] = Field(
        default_factory=list, description="the calls that take the backup (snapshots)"
    )
    changes: list[PlannedChange] = Field(
        default_factory=list, description="the calls that remove or stop it, in order"
    )
    left_alone: str | None = Field(default=None, description="why it would not be changed")
    not_reached: str | None = Field(
        default=None,
        description="a dry run that failed: the step that would change it never ran",
    )

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.resource_id}"

    def then(self) -> list[str]:
        """What happens to it after its backup, a line per change."""
        if self.left_alone:
            return [f"left alone: {self.left_alone}"]
        lines = [f"{c.action} {c.resource}" for c in self.changes]
        if self.not_reached:
            lines.append(self.not_reached)
        return lines or ["kept as it is"]


class Plan(BaseModel):
    format: Literal["sunset.plan/1"] = "sunset.plan/1"
    run_id: str
    service: str
    waits: list[str] = Field(description="the notice period and the approval a real run waits for")
    resources: list[PlannedResource]
    notices: list[str] = Field(description="the notices a real run sends, in order")
    untouched: list[str] = Field(description="resources of the service no run changes, and why")
    other_changes: list[PlannedChange] = Field(
        default_factory=list, description="planned changes no inventory resource claims"
    )
    failed_step: str | None = Field(
        default=None, description="where the dry run failed: a real run would fail there too"
    )

    def changes(self) -> list[tuple[str, str]]:
        """Every planned change but the notices, (action, resource), resource by resource."""
        every = [c for r in self.resources for c in (*r.backup_changes, *r.changes)]
        return [(c.action, c.resource) for c in [*every, *self.other_changes]]


def changes_made(actions: list[Action]) -> list[tuple[str, str]]:
    """What a real run changed, (action, resource) in order: the counterpart of a plan."""
    return [(a.action, a.resource) for a in actions if a.is_aws_change and a.result == "ok"]


def planned(actions: list[Action]) -> list[tuple[str, str]]:
    """What a dry run would have changed, (action, resource) in order."""
    return [(a.action, a.resource) for a in actions if a.is_planned_change]


def _owner(action: Action, inventory: Inventory) -> tuple[ResourceKind, str] | None:
    """The inventory resource a journal entry acts on, from the names the phases give them."""
    resource = action.resource
    for kind, resource_id in inventory.backed_up_resources():
        if resource == f"{kind}/{resource_id}":
            return kind, resource_id  # skips, endpoint deletions, whole APIs
    for endpoint in inventory.endpoints:
        # Autoscaling targets are named endpoint/<name>/variant/<variant>.
        if resource.startswith(f"endpoint/{endpoint.name}/variant/"):
            return "sagemaker-endpoint", endpoint.name
    for api_kind, ids in (
        ("http-api", [a.api_id for a in inventory.http_apis]),
        ("rest-api", [a.api_id for a in inventory.rest_apis]),
    ):
        for api_id in ids:
            if resource.startswith(f"{api_kind}/{api_id}/"):
                return api_kind, api_id
    # Snapshots and database stops name the bare id.
    if any(v.volume_id == resource for v in inventory.volumes):
        return "ebs-volume", resource
    cluster_call = "DBCluster" in action.action
    if cluster_call and any(c.identifier == resource for c in inventory.db_clusters):
        return "rds-cluster", resource
    if not cluster_call and any(d.identifier == resource for d in inventory.db_instances):
        return "rds-instance", resource
    return None


# The step that changes each kind of resource, when a run changes it at all.
_CHANGED_IN: dict[ResourceKind, str] = {
    "sagemaker-endpoint": "Stop endpoints",
    "http-api": "Remove API routes",
    "rest-api": "Remove API routes",
    "rds-instance": "Stop endpoints",
    "rds-cluster": "Stop endpoints",
}


def _backup(manifest: Manifest, row: PlannedResource, done: set[str]) -> str:
    if row.kind in SNAPSHOT_ACTION:
        if row.backup_changes:
            tested = ", restore-tested" if manifest.request.backup.restore_test else ""
            return f"snapshot taken and verified first{tested}"
        return "no snapshot planned" if "Back up" in done else "not reached"
    verification = manifest.backups.verification_for(row.kind, row.resource_id)
    if verification is None or verification.backup != CAPTURED:
        return "configuration not captured" if "Verify backups" in done else "not reached"
    if not verification.verified:
        return "configuration captured, but it does NOT match what is live"
    return "configuration captured and verified now"


def _not_reached(manifest: Manifest, row: PlannedResource, done: set[str]) -> str | None:
    step = _CHANGED_IN.get(row.kind)
    if step is None or step in done or row.left_alone:
        return None
    if row.kind.startswith("rds-") and not manifest.request.stop_databases:
        return None
    failed = manifest.incident.failed_step if manifest.incident else "an earlier step"
    return f"not planned further: the dry run failed in {failed} before {step} was done"


def build_plan(manifest: Manifest) -> Plan:
    """The plan of a dry run, from its manifest: per resource, the backup and then the changes.

    Every planned change lands somewhere: under its resource, or in `other_changes` when no
    inventory resource claims it. A dry run that failed says, per resource, what it never got
    to plan."""
    inventory = manifest.require_inventory()
    rows: dict[tuple[ResourceKind, str], PlannedResource] = {}
    for kind, resource_id in inventory.backed_up_resources():
        rows[(kind, resource_id)] = PlannedResource(kind=kind, resource_id=resource_id, backup="")
    notices: list[str] = []
    waits: list[str] = []
    other: list[PlannedChange] = []
    for action in manifest.actions:
        if action.result not in ("planned", "skipped"):
            continue
        if action.action.startswith("notify "):
            notices.append(action.action.removeprefix("notify "))
            continue
        if action.action.startswith("wait "):
            waits.append(f"{action.action.removeprefix('wait ')}: {action.detail}")
            continue
        change = PlannedChange(action=action.action, resource=action.resource)
        owner = _owner(action, inventory)
        row = rows.get(owner) if owner else None
        if row is None:
            if action.result == "planned":
                other.append(change)
        elif action.result == "skipped":
            row.left_alone = action.detail
        elif action.action == SNAPSHOT_ACTION.get(row.kind):
            row.backup_changes.append(change)
        else:
            row.changes.append(change)
    done = {phase.name for phase in manifest.phases if phase.status == "succeeded"}
    for row in rows.values():
        row.backup = _backup(manifest, row, done)
        row.not_reached = _not_reached(manifest, row, done)
    untouched = [
        f"{p.kind}/{p.resource_id}: tagged sunset:protect=true" for p in inventory.protected
    ]
    untouched += [f"{n.kind}/{n.resource_id}: {n.reason}" for n in inventory.not_handled]
    return Plan(
        run_id=manifest.run_id,
        service=manifest.service,
        waits=waits,
        resources=list(rows.values()),
        notices=notices,
        untouched=untouched,
        other_changes=other,
        failed_step=manifest.incident.failed_step if manifest.incident else None,
    )


def plan_table(plan: Plan) -> str:
    """The plan as a fixed-width table people read in a terminal, one change per line."""
    header = ("Resource", "Backup first", "Then")
    rows = [(r.label, r.backup, r.then()) for r in plan.resources]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    lines = [f"Plan for {plan.service} (dry run {plan.run_id}: nothing was changed)", ""]
    if plan.failed_step:
        lines += [f"The dry run FAILED in {plan.failed_step}: a real run would fail there too.", ""]
    lines.append(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}")
    lines.append(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * 4}")
    for label, backup, then in rows:
        for i, change in enumerate(then):
            first = (label, backup) if i == 0 else ("", "")
            lines.append(f"{first[0]:<{widths[0]}}  {first[1]:<{widths[1]}}  {change}".rstrip())
    if plan.other_changes:
        lines += ["", "Other planned changes:"]
        lines += [f"  - {c.action} {c.resource}" for c in plan.other_changes]
    if plan.waits:
        lines += ["", "Before anything changes:", *(f"  - {w}" for w in plan.waits)]
    lines += ["", "Notices: " + (", ".join(plan.notices) or "none")]
    if plan.untouched:
        lines += ["", "Not touched:", *(f"  - {u}" for u in plan.untouched)]
    return "\n".join(lines) + "\n"
