"""Names of the environment variables that the stack sets and the handlers read.

One place for both sides, so a rename cannot leave one of them behind.
"""

from __future__ import annotations


class Env:
    DEPLOYMENT_NAME = "HSMDR_DEPLOYMENT_NAME"
    DOCS_URL = "HSMDR_DOCS_URL"  # where the runbooks are published; unset: relative paths
    PROTECTED_CLUSTERS = "HSMDR_PROTECTED_CLUSTERS"
    RPO_HOURS = "HSMDR_RPO_HOURS"
    BACKUP_IN_PROGRESS_MAX_MINUTES = "HSMDR_BACKUP_IN_PROGRESS_MAX_MINUTES"
    ALERT_TOPIC_ARN = "HSMDR_ALERT_TOPIC_ARN"  # page severity
    NOTIFY_TOPIC_ARN = "HSMDR_NOTIFY_TOPIC_ARN"  # notify severity
    BACKUP_SETTINGS = "HSMDR_BACKUP_SETTINGS"
    LOCK_TABLE = "HSMDR_LOCK_TABLE"
    ALERT_MEMORY_TABLE = "HSMDR_ALERT_MEMORY_TABLE"
    REPEAT_ALERT_MINUTES = "HSMDR_REPEAT_ALERT_MINUTES"
    PRIMARY_WATCH = "HSMDR_PRIMARY_WATCH"  # the DR copy monitor: is the primary reporting?
    RESTORE_SETTINGS = "HSMDR_RESTORE_SETTINGS"
    STANDBY_SETTINGS = "HSMDR_STANDBY_SETTINGS"
    # The key verifier's security group, when the restore verifies keys (a token: not JSON)
    RESTORE_VERIFIER_SECURITY_GROUP = "HSMDR_RESTORE_VERIFIER_SECURITY_GROUP"
    REPLACEMENT_SETTINGS = "HSMDR_REPLACEMENT_SETTINGS"
    REPLACE_HSM_STATE_MACHINE_ARN = "HSMDR_REPLACE_HSM_STATE_MACHINE_ARN"
    DRILL_WATCH_SETTINGS = "HSMDR_DRILL_WATCH_SETTINGS"
    # The stack's reports bucket (a token: not JSON); lambdas/shared/report_store.py
    REPORTS_BUCKET = "HSMDR_REPORTS_BUCKET"
    SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


METRICS_NAMESPACE = "CloudHsmDr"
