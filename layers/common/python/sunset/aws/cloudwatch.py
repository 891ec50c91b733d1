"""CloudWatch metrics, read in batches of up to 500 queries per GetMetricData call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MAX_QUERIES = 500


def sum_metrics(
    cloudwatch: Any,
    metrics: Mapping[str, dict[str, Any]],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, float]:
    """Sum of each metric over [start, end]; `metrics` maps a label to a Metric structure."""
    labels = list(metrics)
    totals = dict.fromkeys(labels, 0.0)
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
                totals[label] += float(sum(result.get("Values", [])))
    return totals
