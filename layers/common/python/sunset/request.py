"""The execution input of a decommission run: the public contract people start runs with.

Every field is validated here, in Prepare, before any AWS call that changes anything. Unknown
fields are errors: a misspelt `dry_run` silently ignored would make a real shutdown the operator
did not ask for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sunset.errors import InvalidRequest

# The longest notice a run may give: a Standard execution lives at most a year, and a notice
# longer than a month is a plan, not a run.
MAX_NOTICE_SECONDS = 2_592_000
# The most targets one run fans out to: each is an execution of its own, checked at every poll.
MAX_TARGETS = 20
# Step Functions' longest execution name; a target's run is named after its parent run.
MAX_EXECUTION_NAME = 80

# Service names end up in tags, snapshot identifiers and S3 keys: keep them to a safe alphabet.
SERVICE_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
TagKey = Annotated[str, Field(min_length=1, max_length=128)]
TagValue = Annotated[str, Field(max_length=256)]
ResourceId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_./:$-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Selector(_Strict):
    """Which resources belong to the service: every tag here must match."""

    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        max_length=10,
        description="tag key -> value; a resource belongs to the service when it has them all",
    )


class ExplicitResources(_Strict):
    """Resources added by id, on top of what the selector's tags find."""

    sagemaker_endpoints: list[ResourceId] = Field(default_factory=list, max_length=500)
    http_apis: list[ResourceId] = Field(default_factory=list, max_length=500)
    rest_apis: list[ResourceId] = Field(default_factory=list, max_length=500)
    ebs_volumes: list[ResourceId] = Field(default_factory=list, max_length=500)
    rds_instances: list[ResourceId] = Field(default_factory=list, max_length=500)
    rds_clusters: list[ResourceId] = Field(default_factory=list, max_length=500)
    log_groups: list[ResourceId] = Field(default_factory=list, max_length=500)

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in type(self).model_fields)


# An IAM role in the target account, with no path: arn:<partition>:iam::<account>:role/<name>.
# Sunset's functions may assume only roles named TargetRoleName at the root (template.yaml),
# which is where target-role.yaml creates it.
ROLE_ARN_PATTERN = r"^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_-]{1,64}$"


class Target(_Strict):
    """Where the service lives, when not in Sunset's own account and region: the run assumes
    `role_arn` there and makes every call to the service's resources with that role. Sunset's
    own state (manifest, audit trail, lock, notices) stays in its own account."""

    account: Annotated[
        str, Field(pattern=r"^\d{12}$", description="the AWS account id of the service (12 digits)")
    ]
    region: Annotated[
        str,
        Field(
            pattern=r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$",
            description="the Region of the service, such as eu-west-1",
        ),
    ]
    role_arn: Annotated[
        str,
        Field(
            min_length=20,
            max_length=2_048,
            description="the IAM role Sunset assumes in that account, with no path "
            "(docs/targets.md says what it needs and whom it must trust)",
            # For the schema; the validator below checks it, with a readable refusal.
            json_schema_extra={"pattern": ROLE_ARN_PATTERN},
        ),
    ]

    @field_validator("role_arn")
    @classmethod
    def _a_role_arn(cls, arn: str) -> str:
        if re.match(ROLE_ARN_PATTERN, arn) is None:
            raise ValueError(
                f"{arn!r} is not the ARN of a role with no path, such as "
                "arn:aws:iam::123456789012:role/sunset-target"
            )
        return arn

    @model_validator(mode="after")
    def _role_in_the_target_account(self) -> Target:
        account = self.role_arn.split(":")[4]  # the pattern checked above
        if account != self.account:
            raise ValueError(
                f"role_arn is in account {account}, the target is account "
                f"{self.account}: the role must be in the account whose resources it changes"
            )
        return self

    @property
    def name(self) -> str:
        """How the target is named in reports and notices: account/region."""
        return f"{self.account}/{self.region}"


def target_run_id(run_id: str, target: Target) -> str:
    """The execution name of a target's run: its parent run's, then the target's place."""
    return f"{run_id}--{target.account}-{target.region}"


def lock_name(service: str, target: Target | None, home_arn: str) -> str:
    """The lock a run on `service` takes in the runs table: one per service and place, so that
    runs on same-named services in different accounts or Regions do not wait for each other.

    Where Sunset runs (no target, or a target naming Sunset's own account and Region: the same
    resources) it is the service's name, as before targets existed; elsewhere it is
    service@account/region. `home_arn` is an ARN of Sunset's own account and Region, such as
    the execution's."""
    if target is None:
        return service
    parts = home_arn.split(":")
    if len(parts) < 5 or not parts[4]:
        raise ValueError(f"{home_arn!r} is not an ARN that names an account and a Region")
    if (parts[4], parts[3]) == (target.account, target.region):
        return service
    return f"{service}@{target.name}"


class Approval(_Strict):
    """A person must approve before anything is changed; no answer in time cancels the run."""

    required: bool = Field(
        default=False,
        description="ask for approval (APPROVAL notice, `sunset approve`) before anything changes",
    )
    timeout_seconds: Annotated[
        int,
        Field(gt=0, le=31_536_000, description="no answer within this time cancels the run"),
    ] = 86_400


# A Standard execution holds at most 25,000 history events, and each poll of a wait loop adds
# about 9 (Task, Lambda, Choice, Wait). One loop may poll at most MAX_POLLS times; the loops of a
# decommission (backups, restore tests, validation) together at most MAX_RUN_POLLS, which leaves
# room for a rollback's loop (up to MAX_POLLS) and the other states. Overflowing the history
# would kill the execution outside every Catch: no INCIDENT, the lock left held.
MAX_POLLS = 1_000
MAX_RUN_POLLS = 1_600


def _polls(deadline_seconds: int, poll_seconds: int) -> int:
    return -(-deadline_seconds // poll_seconds)


def _require_polls_fit(deadline_seconds: int, poll_seconds: int) -> None:
    """A wait loop polled every poll_seconds until deadline_seconds must fit the history."""
    polls = _polls(deadline_seconds, poll_seconds)
    if polls > MAX_POLLS:
        raise ValueError(
            f"deadline_seconds / poll_seconds allows {polls} polls; at most {MAX_POLLS} fit "
            "in one execution's history: poll less often or shorten the deadline"
        )


class BackupOptions(_Strict):
    """How long to wait for snapshots, and whether to prove them by restoring a copy."""

    poll_seconds: Annotated[
        int, Field(gt=0, le=3_600, description="how often to look at pending snapshots")
    ] = 30
    deadline_seconds: Annotated[
        int, Field(gt=0, le=604_800, description="snapshots not complete by then fail the run")
    ] = 21_600
    restore_test: bool = Field(
        default=False,
        description="restore a copy of every snapshot, wait until it is available, delete it",
    )

    @model_validator(mode="after")
    def _fits_the_execution_history(self) -> BackupOptions:
        _require_polls_fit(self.deadline_seconds, self.poll_seconds)
        return self


# The checks of the Validate phase, in the order they run; docs/validation.md says what each
# one asks and what counts as proof.
CheckName = Literal["endpoints", "routes", "probes", "traffic", "logs"]
CHECK_NAMES: tuple[CheckName, ...] = ("endpoints", "routes", "probes", "traffic", "logs")


class ValidationOptions(_Strict):
    """How the Validate phase proves the service is down."""

    checks: list[CheckName] = Field(
        default_factory=lambda: list(CHECK_NAMES),
        min_length=1,
        description="which proofs to gather (docs/validation.md)",
    )
    quiet_period_seconds: Annotated[
        int,
        Field(ge=0, le=86_400, description="watch traffic and logs this long after the stop"),
    ] = 0
    grace_seconds: Annotated[
        int,
        Field(ge=0, le=300, description="requests in flight at the cut-off do not count"),
    ] = 30
    poll_seconds: Annotated[
        int, Field(gt=0, le=3_600, description="how often to look while endpoints delete")
    ] = 30
    deadline_seconds: Annotated[
        int,
        Field(gt=0, le=86_400, description="an endpoint still deleting by then fails the proof"),
    ] = 1_800
    error_patterns: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default_factory=lambda: ["ERROR", "Traceback"],
        max_length=20,
        description="regular expressions; a matching log line during the run is reported",
    )

    @field_validator("checks")
    @classmethod
    def _each_check_once(cls, checks: list[CheckName]) -> list[CheckName]:
        twice = sorted({name for name in checks if checks.count(name) > 1})
        if twice:
            raise ValueError(f"listed more than once: {', '.join(twice)}")
        return checks

    @field_validator("error_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns

    @model_validator(mode="after")
    def _fits_the_execution_history(self) -> ValidationOptions:
        _require_polls_fit(self.deadline_seconds, self.poll_seconds)
        return self

    @model_validator(mode="after")
    def _traffic_alone_needs_a_quiet_period(self) -> ValidationOptions:
        if self.checks == ["traffic"] and not self.quiet_period_seconds:
            raise ValueError(
                "checks is only traffic, and quiet_period_seconds is 0: the traffic check "
                "measures a quiet period, so nothing would be proven"
            )
        return self


class DecommissionRequest(_Strict):
    """What a person asks Sunset to do: the execution input of the decommission machine."""

    service: Annotated[
        str,
        Field(
            pattern=SERVICE_NAME_PATTERN,
            description="the service's name: lower-case letters, digits and '-'; one run at a "
            "time per service in each account and Region",
        ),
    ]
    selector: Selector = Field(description="the tags that find the service's resources")
    reason: Annotated[
        str, Field(min_length=1, max_length=2_000, description="why: sent in every notice")
    ]
    contacts: list[Annotated[str, Field(min_length=3, max_length=254)]] = Field(
        default_factory=list, max_length=50, description="whom to call: shown in every notice"
    )
    expected_downtime: str | None = Field(
        default=None,
        description="ISO-8601 duration such as P14D or PT6H; null means permanent",
    )
    resumption_plan: Annotated[
        str, Field(min_length=1, max_length=2_000, description="how the service comes back")
    ] = "Run recommission with this run id"
    notice_seconds: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_NOTICE_SECONDS,
            description="announce, then wait this long before changing anything (not with cutoff)",
        ),
    ] = 0
    cutoff: str | None = Field(
        default=None,
        description="or: the instant the shutdown starts, ISO-8601 with its offset "
        "(2026-12-01T22:00:00+01:00), in the future, within 30 days",
    )
    timezone: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="IANA zone (Europe/Paris) the notices also give the cutoff in",
        ),
    ] = "UTC"
    dry_run: bool = Field(
        default=False,
        description=(
            "true: change nothing; run every step, record each change as 'planned' and end "
            "with the plan (per resource: what would be done, and the backup that comes first)"
        ),
    )
    on_failure: Literal["rollback", "halt"] = Field(
        default="rollback",
        description="rollback: put back what was removed; halt: stop where it failed and tell",
    )
    stop_databases: bool = Field(
        default=False, description="also stop the RDS instances and Aurora clusters"
    )
    approval: Approval = Field(default_factory=Approval)
    backup: BackupOptions = Field(default_factory=BackupOptions)
    validation: ValidationOptions = Field(default_factory=ValidationOptions)
    resources: ExplicitResources = Field(
        default_factory=ExplicitResources,
        description="resources added by id, on top of what the selector finds",
    )
    target: Target | None = Field(
        default=None,
        description="the account and Region of the service, and the role to assume there; "
        "null: Sunset's own account and Region",
    )
    targets: list[Target] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TARGETS,
        description="or: every account and Region the service lives in; the run starts one "
        "run per target, each with this request and its own target, and waits for them all "
        "(docs/targets.md)",
    )

    @field_validator("reason", "resumption_plan")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("must not be blank")
        return text.strip()

    @field_validator("expected_downtime")
    @classmethod
    def _iso_duration(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) is None:
            raise ValueError(f"{value!r} is not an ISO-8601 duration such as P14D or PT6H")
        return value

    @field_validator("cutoff")
    @classmethod
    def _cutoff_is_an_instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_cutoff(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory
            raise ValueError(
                f"{name!r} is not an IANA time zone such as Europe/Paris or America/New_York"
            ) from None
        return name

    @model_validator(mode="after")
    def _one_way_to_give_notice(self) -> DecommissionRequest:
        if self.cutoff is not None and self.notice_seconds:
            raise ValueError(
                "give notice_seconds or cutoff, not both: both say when the shutdown starts"
            )
        return self

    @model_validator(mode="after")
    def _wait_loops_fit_the_execution_history(self) -> DecommissionRequest:
        backup, validation = self.backup, self.validation
        backup_polls = _polls(backup.deadline_seconds, backup.poll_seconds)
        loops = [("backup", backup_polls)]
        if backup.restore_test:
            loops.append(("restore tests", backup_polls))
        loops.append(("validation", _polls(validation.deadline_seconds, validation.poll_seconds)))
        total = sum(polls for _, polls in loops)
        if total > MAX_RUN_POLLS:
            shown = " + ".join(f"{polls} ({name})" for name, polls in loops)
            raise ValueError(
                f"backup and validation deadline_seconds / poll_seconds allow {shown} = {total} "
                f"polls; at most {MAX_RUN_POLLS} fit in one execution's history with room for a "
                "rollback: poll less often or shorten a deadline"
            )
        return self

    @model_validator(mode="after")
    def _one_place_or_several(self) -> DecommissionRequest:
        if self.targets is None:
            return self
        if self.target is not None:
            raise ValueError("give target or targets, not both: both say where the service is")
        places = [t.name for t in self.targets]
        twice = sorted({place for place in places if places.count(place) > 1})
        if twice:
            raise ValueError(
                f"targets names {', '.join(twice)} more than once: one run per account and Region"
            )
        if not self.resources.is_empty():
            raise ValueError(
                "resources lists ids, which belong to one account and Region: give them with "
                "one target, not with targets"
            )
        return self

    def for_target(self, target: Target) -> DecommissionRequest:
        """This request, for one of its targets: the input of that target's own run."""
        return self.model_copy(update={"targets": None, "target": target})

    @model_validator(mode="after")
    def _something_selected(self) -> DecommissionRequest:
        if not self.selector.tags and self.resources.is_empty():
            raise ValueError(
                "selector.tags is empty and no resources are listed: "
                "Sunset will not guess which resources belong to the service"
            )
        return self

    @property
    def downtime(self) -> timedelta | None:
        """The expected downtime, or None when the shutdown is permanent."""
        return parse_duration(self.expected_downtime) if self.expected_downtime else None


def parse_cutoff(text: str) -> datetime:
    """An ISO-8601 instant with its offset ('2026-12-01T09:00:00Z', '...+01:00'), in UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO-8601 date and time such as 2026-12-01T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset: say Z for UTC, or +01:00 and the like")
    return moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta | None:
    """Parse an ISO-8601 duration made of weeks, days, hours, minutes, seconds."""
    match = _DURATION.match(text)
    if not match:
        return None
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


def parse_request(raw: object) -> DecommissionRequest:
    """Validate an execution input, turning every problem into one readable InvalidRequest."""
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise InvalidRequest(f"the execution input must be a JSON object, not {type(raw).__name__}")
    try:
        return DecommissionRequest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc)) from None


def _field_name(part: object) -> str:
    """A part of a field path as people read it. Keys come from the input (an unknown field, a
    tag key), so one that is long or holds a line break or an invisible character is shown
    quoted and cut: the refusal stays one readable line, whatever was sent."""
    text = str(part)
    if len(text) <= 64 and text.isprintable():
        return text
    return repr(text[:32]) + ("…" if len(text) > 32 else "")


def describe_validation_error(exc: object) -> str:
    """All problems on one line, each naming the field by its dotted path."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(_field_name(part) for part in error["loc"]) or "(input)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "field required"
        message = message.removeprefix("Value error, ")
        problems.append(f"{field}: {message}")
    return "invalid request: " + "; ".join(problems)


# Step Functions execution names: what a run id can be.
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"


class RecommissionRequest(_Strict):
    """The execution input of the recommission machine: which run to bring back, and how
    patiently. Endpoints and databases take minutes to come up on AWS."""

    run_id: Annotated[
        str, Field(pattern=RUN_ID_PATTERN, description="the decommission run to bring back")
    ]
    poll_seconds: Annotated[
        int, Field(gt=0, le=3_600, description="how often to look while endpoints start")
    ] = 30
    deadline_seconds: Annotated[
        int,
        Field(gt=0, le=86_400, description="not back by then: the restore fails, routes stay away"),
    ] = 3_600

    @model_validator(mode="after")
    def _fits_the_execution_history(self) -> RecommissionRequest:
        _require_polls_fit(self.deadline_seconds, self.poll_seconds)
        return self


def parse_recommission(raw: object) -> RecommissionRequest:
    """Validate a recommission input: one readable InvalidRequest naming every bad field."""
    from pydantic import ValidationError

    if not isinstance(raw, dict):
        raise InvalidRequest(
            'the recommission input must be a JSON object such as {"run_id": "..."}, '
            f"not {type(raw).__name__}"
        )
    try:
        return RecommissionRequest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(exc)) from None
