"""Names shared by the stack, the sandbox and the tests (service names, metric names)."""

from __future__ import annotations

from lambdas.drill.settings import drill_state_machine_name

VERIFY_BACKUPS = "verify-backups"  # function service name and schedule job
ON_DEMAND_BACKUP = "on-demand-backup"
CHECK_HEALTH = "check-health"  # the HSM health check (schedule and HsmUnhealthy alarms)
REPLACE_HSM = "replace-hsm"  # steps of the single-HSM replacement state machine


def replace_hsm_state_machine_name(deployment_name: str) -> str:
    """Fixed, so the CLI starts it from the deployment config alone."""
    return f"{deployment_name}-replace-hsm"


RESTORE_CLUSTER = "restore-cluster"  # steps of the full restore; also its state machine's suffix

COPY_BACKUPS = "copy-backups"  # the copy job: copies to DR regions, pruning, golden backups
COPY_MONITOR = "copy-monitor"  # runs in each DR region, watches the copies held there
# Runs in each DR region with a pilot-light posture: keeps its standby clusters current.
STANDBY_REFRESHER = "standby-refresher"
# The DR drill's service name: it emits DrillSucceeded, DrillRecoveryTimeSeconds,
# DrillBackupAgeSeconds and DrillHsmHours with the dimension service=dr-drill only
# (Powertools adds it), which the drill watcher, the alarms and the dashboard read.
DR_DRILL = "dr-drill"
WATCH_DRILLS = "watch-drills"  # daily: days since the last successful drill


def dr_stack_name(deployment_name: str, region: str) -> str:
    """The stack deployed into one DR region."""
    return f"{deployment_name}-dr-{region}"


# The recovery-account vault (docs/runbooks/vault.md).
SHARE_BACKUPS = "share-backups"  # main stack: shares the newest backups with the vault
VAULT_REFRESH = "vault-refresh"  # vault stack: steps of the refresh state machine
VERIFY_VAULT = "verify-vault"  # vault stack: vault age, failed refreshes, silent production


def vault_stack_name(deployment_name: str) -> str:
    """The stack deployed into `recovery_account.account`, in `recovery_account.region`."""
    return f"{deployment_name}-vault"


def vault_operator_policy_name(deployment_name: str) -> str:
    """The vault stack's managed policy for operators in the recovery account."""
    return f"{deployment_name}-vault-operator"


def vault_refresh_state_machine_name(deployment_name: str) -> str:
    return f"{deployment_name}-{VAULT_REFRESH}"


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


def restore_state_machine_name(deployment_name: str) -> str:
    """The same name in the main stack and in every DR-region stack (names are regional)."""
    return f"{deployment_name}-{RESTORE_CLUSTER}"


dr_drill_state_machine_name = drill_state_machine_name  # the drill function names it too


def dr_drill_report_parameter(deployment_name: str) -> str:
    """SSM parameter holding the drill report bucket's name (hsmdr drill report reads it)."""
    return f"/hsmdr/{deployment_name}/drill-report-bucket"


def reports_bucket_parameter(deployment_name: str) -> str:
    """SSM parameter, in each stack's region, holding its reports bucket's name (the
    drill's, the restore's and the replacement's reports; hsmdr report reads it)."""
    return f"/hsmdr/{deployment_name}/reports-bucket"


ALERT_AUDIENCES = ("page", "notify", "escalation")  # one SNS topic each, in every stack


def alert_topic_parameter(deployment_name: str, audience: str) -> str:
    """SSM parameter, in each stack's region, holding the ARN of one alert topic (so
    `hsmdr alerts check` finds the topics from the deployment config alone)."""
    return f"/hsmdr/{deployment_name}/alerts/{audience}-topic-arn"


def config_parameter(deployment_name: str) -> str:
    """SSM parameter, in the main stack's region and in every DR region, holding the
    deployment's validated config (stacks/config/stored.py): `hsmdr --deployment NAME`
    reads it instead of a local YAML."""
    return f"/hsmdr/{deployment_name}/config"
