"""The standby refresher: keeps each standby cluster of this region current."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.alerting.delivery import Repeat, memory_of
from lambdas.alerting.memory import findings_signature
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import VerificationSettings
from lambdas.standby.alerts import refusal_alert
from lambdas.standby.refresh import refresh_standbys
from lambdas.standby.settings import StandbySettings


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StandbySettings.from_env()
    gateway = CloudHsmGateway.for_region(os.environ.get("AWS_REGION", settings.region))
    result = refresh_standbys(settings, gateway)
    answer = result.to_dict()
    if result.errors or result.refused:
        # Nested: "created" is a LogRecord attribute, and a top-level key would clash.
        logger.warning("standby refresh problems", extra={"refresh": answer})
    alerts = VerificationSettings.from_env()
    repeat = Repeat(memory_of(alerts), f"standby#{result.region}", alerts.repeat_every)
    if result.refused:
        scheduled = isinstance(event, dict) and event.get("source") == "schedule"
        answer.update(
            repeat.publish(
                refusal_alert(result, settings.deployment_name),
                alerts.alert_topics,
                signature=findings_signature(("REFUSED", result.region, r) for r in result.refused),
                now=datetime.now(UTC),
                scheduled=scheduled,
            )
        )
    else:
        repeat.clear()
    if result.errors:
        # A failed invocation raises the function's error alarm (stacks/monitoring.py).
        raise RuntimeError("; ".join(result.errors))
    return answer
