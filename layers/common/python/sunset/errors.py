"""Errors a person on call can act on.

The class name becomes the Step Functions error name (Lambda reports it as `errorType`), so the
ASL can catch `InvalidRequest` or `ServiceLocked` by name and the INCIDENT notice can say what
failed, on which resource, and what was done about it.
"""

from __future__ import annotations

import json


class SunsetError(Exception):
    """Base class of every error Sunset raises on purpose."""


class InvalidRequest(SunsetError):
    """The execution input is wrong; nothing was touched."""


class ServiceLocked(SunsetError):
    """Another run holds the service's lock; this run did nothing."""


class ResourceNotFound(SunsetError):
    """A resource named explicitly in the request does not exist."""


class NothingToDecommission(SunsetError):
    """The selector and explicit ids matched no resource that Sunset may act on."""


class ResourceVanished(SunsetError):
    """A resource found by Discover disappeared before Sunset could back it up."""


class ProtectedMidRun(SunsetError):
    """A resource was tagged sunset:protect=true after this run had begun changing it."""


class BackupFailed(SunsetError):
    """A snapshot ended in error, or a restore test failed: the backup cannot be trusted."""


class BackupDeadlineExceeded(SunsetError):
    """Backups were still not complete when backup.deadline_seconds ran out."""


class BackupNotVerified(SunsetError):
    """A backup or captured configuration does not match its source."""


class ManifestError(SunsetError):
    """A run's manifest is missing or does not match the schema this version understands."""


class RestoreFailed(SunsetError):
    """A piece of the service cannot be brought back (an endpoint failed, an API is gone)."""


class RestoreDeadlineExceeded(SunsetError):
    """Endpoints or databases were still not up when the restore's deadline ran out."""


class RestoreIncomplete(SunsetError):
    """The restore ran, but the service does not match its capture: the checks say where."""


class ShutdownNotProven(SunsetError):
    """The Validate phase found the service still alive: an endpoint running, a route answering,
    traffic or requests after the cut-off, or error lines during the run."""


class AwsCallFailed(SunsetError):
    """A call that changes AWS state failed; the audit trail has the details."""

    def __init__(self, action: str, resource: str, code: str, message: str) -> None:
        self.action = action
        self.resource = resource
        self.code = code
        super().__init__(f"{action} on {resource} failed with {code}: {message}")


class AwsThrottled(SunsetError):
    """AWS throttled a call; the state machine retries the step with backoff and jitter."""


class AwsTransient(SunsetError):
    """AWS failed in a way that passes (an internal error, a service unavailable, no answer in
    time); the state machine retries the step with backoff and jitter. Every step reads the
    state again before it changes anything, so a retry after a change that did happen does not
    make it twice."""


# The AWS error codes that mean "slow down and try again", across the services Sunset calls.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "LimitExceededException",
    }
)
# The AWS error codes of a failure on AWS's side that a later attempt may not meet.
TRANSIENT_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def readable_cause(cause: str) -> str:
    """Lambda wraps errors as JSON ({errorType, errorMessage, ...}); people want the message."""
    try:
        payload = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(payload, dict) and "errorMessage" in payload:
        return str(payload["errorMessage"])
    return cause
