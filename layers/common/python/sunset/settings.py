"""Function configuration, read once from the environment by the handlers (never by domain code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sunset.errors import SunsetError


class StepSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    artifacts_bucket: Annotated[str, Field(alias="ARTIFACTS_BUCKET", min_length=3)]
    runs_table: Annotated[str, Field(alias="RUNS_TABLE", min_length=3)]
    topic_arn: Annotated[str, Field(alias="NOTIFICATION_TOPIC_ARN", pattern=r"^arn:aws")]
    lock_ttl_seconds: Annotated[int, Field(alias="LOCK_TTL_SECONDS", gt=0)] = 172_800
    # Where probes of API Gateway invoke URLs go instead of AWS: unset on AWS, the sandbox's
    # local stand-in on a laptop (see sunset.aws.execute_api).
    execute_api_endpoint: Annotated[
        str | None, Field(alias="SUNSET_EXECUTE_API_ENDPOINT", pattern=r"^https?://")
    ] = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StepSettings:
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as exc:
            names = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise SunsetError(
                f"function misconfigured: check environment variables {names}"
            ) from exc
