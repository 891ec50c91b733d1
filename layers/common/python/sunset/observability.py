"""The one place that owns the Powertools logger and metrics.

There is no Powertools Tracer. It is built on the AWS X-Ray SDK, which entered maintenance mode
on 2026-02-25 (end of support 2027-02-25; AWS points to OpenTelemetry instead), and importing it
cost every cold start 0.39 s, more than boto3 itself (docs/PERFORMANCE.md). Traces stay on:
`Tracing: Active` on the functions and the state machines makes Lambda and Step Functions
record a segment per invocation and per state, without an SDK in the function.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics(namespace="Sunset")
