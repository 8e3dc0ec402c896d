"""What the vault functions need from the deployment config, as one JSON value in their
environment (built by stacks/constructs/vault/)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from lambdas.shared.settings import SettingsError

VAULT_SETTINGS = "HSMDR_VAULT_SETTINGS"
VAULT_PAGE_TOPIC_ARN = "HSMDR_VAULT_PAGE_TOPIC_ARN"  # a token: not in the JSON
VAULT_STATE_MACHINE_ARN = "HSMDR_VAULT_STATE_MACHINE_ARN"  # a token: not in the JSON
VAULT_ALERT_MEMORY_TABLE = "HSMDR_VAULT_ALERT_MEMORY_TABLE"  # a token: not in the JSON
# The vault key verifier's security group (recovery_account.key_verification): the
# refresh lets it in to a vault cluster's group for the capture. A token: not in the JSON.
VAULT_VERIFIER_SECURITY_GROUP = "HSMDR_VAULT_VERIFIER_SECURITY_GROUP"


@dataclass(frozen=True)
class VaultSettings:
    deployment_name: str
    region: str  # the vault region, in the recovery account
    cluster_ids: tuple[str, ...]  # the protected clusters whose backups the vault keeps
    subnet_ids: tuple[str, ...]  # recovery_account.subnets of the vault region
    vault_cluster: str = "keep"  # keep | delete
    dr_regions: tuple[str, ...] = ()
    keep_newest: int = 7
    keep_days: int = 35
    rpo_hours: float = 48
    silent_after_hours: float = 48
    poll_seconds: int = 60
    cluster_timeout_minutes: float = 60
    hsm_timeout_minutes: float = 45
    max_hsm_attempts: int = 3
    golden_enabled: bool = False
    golden_period: str = "monthly"
    golden_keep: int = 12
    repeat_alert_minutes: int = 240  # the same findings page again only after this long

    def to_env(self) -> dict[str, str]:
        data = asdict(self)
        return {VAULT_SETTINGS: json.dumps(data, separators=(",", ":"), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VaultSettings:
        environ = os.environ if environ is None else environ
        return _parse(environ.get(VAULT_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse(raw: str) -> VaultSettings:
    try:
        data: dict[str, Any] = json.loads(raw)
        for name in ("cluster_ids", "subnet_ids", "dr_regions"):
            data[name] = tuple(str(v) for v in data[name])
        return VaultSettings(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{VAULT_SETTINGS} is missing or malformed: {error}") from error
