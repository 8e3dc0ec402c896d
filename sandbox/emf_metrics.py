"""What CloudWatch does with a function's embedded-metric-format log lines: turn them
into metrics (PutMetricData into moto), so what reads metrics in the sandbox (the drill
watcher, the DR copy monitor) sees what the functions emitted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

LOGGER = logging.getLogger(__name__)
BATCH = 20  # datapoints per PutMetricData call


def datapoints(lines: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, MetricData entry) for every value of every EMF document in `lines`."""
    found = []
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
            meta = document["_aws"]
        except (ValueError, KeyError, TypeError):
            continue
        timestamp = datetime.fromtimestamp(int(meta.get("Timestamp", 0)) / 1000, UTC)
        for directive in meta.get("CloudWatchMetrics", []):
            # Each dimension set is a metric of its own in CloudWatch.
            for group in directive.get("Dimensions", []) or [[]]:
                dimensions = [{"Name": n, "Value": str(document[n])} for n in group]
                for metric in directive.get("Metrics", []):
                    found += [
                        (
                            directive["Namespace"],
                            {
                                "MetricName": metric["Name"],
                                "Dimensions": dimensions,
                                "Value": float(value),
                                "Unit": metric.get("Unit", "None"),
                                "Timestamp": timestamp,
                            },
                        )
                        for value in _values(document.get(metric["Name"]))
                    ]
    return found


def _values(raw: Any) -> list[float]:
    """A metric's value or values (EMF allows a list), numbers only."""
    values = raw if isinstance(raw, list) else [raw]
    return [float(v) for v in values if isinstance(v, int | float)]


def put(lines: Iterable[str], region: str) -> int:
    """Put the datapoints into CloudWatch of `region`; how many. Never raises: a
    metric the sandbox cannot store must not fail the invocation that emitted it."""
    import boto3

    points = datapoints(lines)
    if not points:
        return 0
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for namespace, entry in points:
        by_namespace.setdefault(namespace, []).append(entry)
    try:
        client = boto3.client("cloudwatch", region_name=region)
        for namespace, entries in by_namespace.items():
            for start in range(0, len(entries), BATCH):
                client.put_metric_data(
                    Namespace=namespace, MetricData=entries[start : start + BATCH]
                )
    except Exception:
        LOGGER.warning("EMF metrics not stored in CloudWatch", exc_info=True)
        return 0
    return len(points)
