"""Handlers for the runner's fixture stack: small, observable, and able to fail on cue.

They return what they saw (event, environment, context) so a test can check the
sandbox handed them the right things, and raise a domain exception whose class name
the fixture state machine catches.
"""

from __future__ import annotations

import json
import os
from typing import Any


class BackupNotFound(Exception):  # the class name is the Step Functions error name
    """No valid backup: the fixture workflow's Catch routes on this name."""


def echo(event: Any, context: Any) -> dict[str, Any]:
    print(json.dumps({"message": "echo invoked", "event": event}))  # a Lambda log line
    return {
        "event": event,
        "alerts_topic_arn": os.environ["ALERTS_TOPIC_ARN"],
        "service": os.environ["POWERTOOLS_SERVICE_NAME"],
        "aws_region": os.environ["AWS_REGION"],
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def check_backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("backupCount", 1) == 0:
        raise BackupNotFound(f"cluster {event.get('clusterId')} has no valid backup")
    return {"clusterId": event.get("clusterId"), "latestBackup": "backup-0001"}


def summarize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("summaryFails"):
        raise BackupNotFound(f"summary of {event.get('clusterId')} found no backup")
    return {"verified": event["check"]["latestBackup"]}
