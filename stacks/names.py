"""Names shared by the stack, the sandbox and the tests (service names, metric names)."""

from __future__ import annotations

VERIFY_BACKUPS = "verify-backups"  # function service name and schedule job

POWERTOOLS_ACCOUNT = "017000801446"  # publisher of the official Powertools layers


def powertools_layer_arn(region: str, version: int) -> str:
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python313-arm64:{version}"
    )
