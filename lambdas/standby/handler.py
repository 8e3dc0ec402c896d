"""The standby refresher: keeps each pilot-light standby cluster of this region current."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.standby.refresh import refresh_standbys
from lambdas.standby.settings import StandbySettings


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = StandbySettings.from_env()
    gateway = CloudHsmGateway.for_region(os.environ.get("AWS_REGION", settings.region))
    result = refresh_standbys(settings, gateway)
    if result.errors or result.refused:
        logger.warning("standby refresh problems", extra=result.to_dict())
    if result.errors:
        # A failed invocation raises the function's error alarm (stacks/monitoring.py).
        raise RuntimeError("; ".join(result.errors))
    return result.to_dict()
