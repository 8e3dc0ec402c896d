"""What the DR drill function needs from the deployment config (its `drills:` section,
the regions, the quotas, whether key verification is deployed), written into the
function's environment by the stack (stacks/constructs/drill/dr_drill.py) and read back here
without pydantic, like the other settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from lambdas.shared.settings import SettingsError


class DrillEnv:
    SETTINGS = "HSMDR_DRILL_SETTINGS"
    REPORT_BUCKET = "HSMDR_DRILL_REPORT_BUCKET"  # tokens: their own variables, not in JSON
    VERIFIER_SECURITY_GROUP = "HSMDR_DRILL_VERIFIER_SECURITY_GROUP"
    PAGE_TOPIC_ARN = "HSMDR_DRILL_PAGE_TOPIC_ARN"


def drill_state_machine_name(deployment_name: str) -> str:
    """Fixed, so the CLI starts and lists drills from the deployment config alone, and
    the drill function knows its own state machine without a reference to it."""
    return f"{deployment_name}-dr-drill"


@dataclass(frozen=True)
class DrillSettings:
    deployment_name: str
    primary_region: str  # the deployment's region: where the verifier runs
    dr_regions: tuple[str, ...] = ()
    default_cluster: str = ""
    default_source: str = "dr-copy"
    subnets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # region -> subnets
    verifier_cidrs: tuple[str, ...] = ()
    poll_seconds: int = 30
    cluster_timeout_minutes: float = 60
    hsm_timeout_minutes: float = 45
    max_hsm_attempts: int = 3
    teardown_timeout_minutes: float = 90
    backup_wait_minutes: float = 30
    delete_drill_backups: bool = False
    key_verification: bool = False  # is the verify-keys function deployed?
    require_key_verification: bool = True
    rto_minutes: float = 60
    hsm_hour_usd: float = 1.85
    clusters_per_region_quota: int = 4
    hsms_per_region_quota: int = 6
    # Set in the recovery account's vault stack (its deployment name): the drill restores
    # the vault's backups (source vault), in primary_region, the vault region.
    vault_deployment: str = ""
    # What a drill without a key verifier names as the way to get one.
    key_verification_field: str = "key_verification"
    # Set from their own environment variables (CloudFormation tokens at synth time).
    report_bucket: str = ""
    verifier_security_group: str = ""
    page_topic_arn: str = ""

    @property
    def state_machine_name(self) -> str:
        return drill_state_machine_name(self.deployment_name)

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region a drill may run in: the deployment's, then the DR regions."""
        return tuple(dict.fromkeys([self.primary_region, *self.dr_regions, *self.subnets]))

    def to_env(self) -> dict[str, str]:
        data = asdict(self)
        for token in ("report_bucket", "verifier_security_group", "page_topic_arn"):
            data.pop(token)
        data["dr_regions"] = list(self.dr_regions)
        data["verifier_cidrs"] = list(self.verifier_cidrs)
        data["subnets"] = {region: list(ids) for region, ids in self.subnets.items()}
        return {DrillEnv.SETTINGS: json.dumps(data, separators=(",", ":"), sort_keys=True)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DrillSettings:
        environ = os.environ if environ is None else environ
        return _parse(
            environ.get(DrillEnv.SETTINGS, ""),
            environ.get(DrillEnv.REPORT_BUCKET, ""),
            environ.get(DrillEnv.VERIFIER_SECURITY_GROUP, ""),
            environ.get(DrillEnv.PAGE_TOPIC_ARN, ""),
        )


@lru_cache(maxsize=8)
def _parse(raw: str, bucket: str, verifier_group: str, page_topic: str) -> DrillSettings:
    try:
        data = json.loads(raw)
        data["dr_regions"] = tuple(data.get("dr_regions", ()))
        data["verifier_cidrs"] = tuple(data.get("verifier_cidrs", ()))
        data["subnets"] = {str(r): tuple(ids) for r, ids in dict(data.get("subnets", {})).items()}
        return DrillSettings(
            **data,
            report_bucket=bucket,
            verifier_security_group=verifier_group,
            page_topic_arn=page_topic,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{DrillEnv.SETTINGS} is missing or malformed: {error}") from error
