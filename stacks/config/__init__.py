"""The deployment config: one YAML (or JSON) file, validated before anything runs.

`cdk synth -c config=PATH` and the CLI's `--config PATH` both load it here. A wrong
value stops with `PATH: field.sub: what is wrong`, before any synthesis or API call.
One module per section (clusters, escalation, drills, backups, ...), deployment.py the
whole file and load.py the reading; the names other code imports are here.
"""

from lambdas.shared.protected import CLUSTER_ID_PATTERN, REGION_PATTERN, ZONE_PATTERN
from stacks.config.base import KMS_KEY_ARN_PATTERN, ConfigError, SubnetId
from stacks.config.clusters import ProtectedClusterConfig
from stacks.config.deployment import DeploymentConfig
from stacks.config.escalation import (
    EMAIL_PATTERN,
    HTTPS_PATTERN,
    PHONE_PATTERN,
    Contact,
    ContactName,
)
from stacks.config.key_verification import KeyVerification, RegionalVerifier
from stacks.config.lambda_options import LOG_RETENTION_NAMES
from stacks.config.load import load_config, parse_config
from stacks.config.recovery_account import RecoveryAccount, VaultKeyVerification
from stacks.config.schedules import CRON_INTERVAL_MINUTES, schedule_interval_minutes

__all__ = [
    "CLUSTER_ID_PATTERN",
    "CRON_INTERVAL_MINUTES",
    "EMAIL_PATTERN",
    "HTTPS_PATTERN",
    "KMS_KEY_ARN_PATTERN",
    "LOG_RETENTION_NAMES",
    "PHONE_PATTERN",
    "REGION_PATTERN",
    "ZONE_PATTERN",
    "ConfigError",
    "Contact",
    "ContactName",
    "DeploymentConfig",
    "KeyVerification",
    "ProtectedClusterConfig",
    "RecoveryAccount",
    "RegionalVerifier",
    "SubnetId",
    "VaultKeyVerification",
    "load_config",
    "parse_config",
    "schedule_interval_minutes",
]
