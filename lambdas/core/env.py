"""Names of the environment variables that the stack sets and the handlers read.

One place for both sides, so a rename cannot leave one of them behind.
"""

from __future__ import annotations


class Env:
    DEPLOYMENT_NAME = "HSMDR_DEPLOYMENT_NAME"
    PROTECTED_CLUSTERS = "HSMDR_PROTECTED_CLUSTERS"
    RPO_HOURS = "HSMDR_RPO_HOURS"
    BACKUP_IN_PROGRESS_MAX_MINUTES = "HSMDR_BACKUP_IN_PROGRESS_MAX_MINUTES"
    ALERT_TOPIC_ARN = "HSMDR_ALERT_TOPIC_ARN"
    BACKUP_SETTINGS = "HSMDR_BACKUP_SETTINGS"
    LOCK_TABLE = "HSMDR_LOCK_TABLE"
    SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


METRICS_NAMESPACE = "CloudHsmDr"
