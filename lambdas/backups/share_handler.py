"""The sharing job's Lambda entry point: shares the newest backups with the recovery
account (lambdas/backups/share_job.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.backups.share_job import share_backups
from lambdas.backups.share_ram import RamShares
from lambdas.backups.share_settings import ShareSettings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = ShareSettings.from_env()
    result = share_backups(settings, CloudHsmGateway.for_region, RamShares.for_region)
    if result.errors or result.refused:
        logger.warning("backup sharing problems", extra=result.to_dict())
        # A failed invocation raises the job's errors alarm (ScheduledJob), which pages.
        raise RuntimeError("; ".join([*result.errors, *result.refused]))
    return result.to_dict()
