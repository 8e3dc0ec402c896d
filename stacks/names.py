"""Names shared by the stack, the sandbox and the tests (service names, metric names)."""

from __future__ import annotations

VERIFY_BACKUPS = "verify-backups"  # function service name and schedule job
ON_DEMAND_BACKUP = "on-demand-backup"
CHECK_HEALTH = "check-health"  # the HSM health check (schedule and HsmUnhealthy alarms)
REPLACE_HSM = "replace-hsm"  # steps of the single-HSM replacement state machine

COPY_BACKUPS = "copy-backups"  # the copy job: copies to DR regions, pruning, golden backups
COPY_MONITOR = "copy-monitor"  # runs in each DR region, watches the copies held there


def dr_stack_name(deployment_name: str, region: str) -> str:
    """The stack deployed into one DR region."""
    return f"{deployment_name}-dr-{region}"


POWERTOOLS_ACCOUNT = "017000801446"  # publisher of the official Powertools layers


def powertools_layer_arn(region: str, version: int) -> str:
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python313-arm64:{version}"
    )


VERIFY_KEYS = "verify-keys"  # key-level check of a (restored) cluster over PKCS#11
CAPTURE_KEY_MANIFEST = "capture-key-manifest"  # scheduled key manifest of production


def key_function_name(deployment_name: str, service: str) -> str:
    """Key-verification functions have fixed names, so the CLI and drills find them."""
    return f"{deployment_name}-{service}"
