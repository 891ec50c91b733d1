"""The one place that owns the Powertools logger, tracer and metrics."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Sunset")
