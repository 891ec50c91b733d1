"""CloudWatch metrics, read in batches of up to 500 queries per GetMetricData call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MAX_QUERIES = 500


def metric_points(
    cloudwatch: Any,
    metrics: Mapping[str, dict[str, Any]],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, list[tuple[datetime, float]]]:
    """The Sum of each metric per period over [start, end], as (period start, value) pairs;
    `metrics` maps a label to a Metric structure. Periods without data are absent."""
    labels = list(metrics)
    points: dict[str, list[tuple[datetime, float]]] = {label: [] for label in labels}
    for offset in range(0, len(labels), _MAX_QUERIES):
        batch = labels[offset : offset + _MAX_QUERIES]
        queries = [
            {
                "Id": f"m{offset + index}",
                "Label": label,
                "MetricStat": {"Metric": metrics[label], "Period": period, "Stat": "Sum"},
                "ReturnData": True,
            }
            for index, label in enumerate(batch)
        ]
        paginator = cloudwatch.get_paginator("get_metric_data")
        for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end):
            for result in page["MetricDataResults"]:
                label = batch[int(result["Id"][1:]) - offset]
                pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                points[label].extend((stamp, float(value)) for stamp, value in pairs)
    return points


def sum_metrics(
    cloudwatch: Any,
    metrics: Mapping[str, dict[str, Any]],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, float]:
    """Sum of each metric over [start, end]; `metrics` maps a label to a Metric structure."""
    points = metric_points(cloudwatch, metrics, start, end, period)
    return {label: sum(value for _, value in pairs) for label, pairs in points.items()}
