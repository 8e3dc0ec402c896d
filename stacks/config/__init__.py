"""The deployment config: one YAML (or JSON) file, validated before anything runs.

`cdk synth -c config=PATH` and the CLI's `--config PATH` both load it here. A wrong
value stops with `PATH: field.sub: what is wrong`, before any synthesis or API call.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lambdas.core.protected import (
    CLUSTER_ID_PATTERN,
    REGION_PATTERN,
    ZONE_PATTERN,
    ProtectedCluster,
)
from lambdas.core.settings import BackupSettings, VerificationSettings

SCHEDULE_PATTERN = r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"  # E.164, as SNS SMS wants it
Region = Annotated[str, Field(pattern=REGION_PATTERN)]
PositiveHours = Annotated[float, Field(gt=0, le=24 * 366)]


class ConfigError(Exception):
    """The config file is unreadable or has invalid values; lines say which and why."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProtectedClusterConfig(_Strict):
    id: str = Field(pattern=CLUSTER_ID_PATTERN, description="CloudHSM cluster id")
    name: str = Field(default="", max_length=64, description="a label for people")
    region: Region
    hsms_per_az: dict[
        Annotated[str, Field(pattern=ZONE_PATTERN)], Annotated[int, Field(ge=1, le=28)]
    ] = Field(min_length=1, description="desired ACTIVE HSMs in each Availability Zone")
    hsm_type: Literal["hsm1.medium", "hsm2m.medium"] | None = None
    mode: Literal["FIPS", "NON_FIPS"] | None = None
    rpo_hours: PositiveHours | None = None
    retention_days: int | None = Field(
        default=None, ge=7, le=379, description="desired BackupRetentionPolicy in days"
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> ProtectedClusterConfig:
        foreign = [z for z in self.hsms_per_az if z[:-1] != self.region]
        if foreign:
            raise ValueError(f"zones {foreign} are not in region {self.region}")
        return self

    def runtime(self) -> ProtectedCluster:
        return ProtectedCluster(**self.model_dump())


class Schedules(_Strict):
    verify_backups: str = Field(default="rate(1 hour)", pattern=SCHEDULE_PATTERN)
    copy_backups: str = Field(default="rate(1 day)", pattern=SCHEDULE_PATTERN)
    health_check: str = Field(default="rate(5 minutes)", pattern=SCHEDULE_PATTERN)
    timezone: str = Field(default="UTC", description="IANA zone for cron schedules")


HTTPS_PATTERN = r"^https://[^\s/]+\S*$"
ContactName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
SEVERITIES = ("page", "notify")  # page wakes someone; notify is read in working hours


class Contact(_Strict):
    """Someone (or a paging service) to reach, by any of email, SMS and an https webhook."""

    name: ContactName
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN)
    sms: str | None = Field(default=None, pattern=PHONE_PATTERN)
    https: str | None = Field(default=None, pattern=HTTPS_PATTERN)

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.sms or self.https):
            raise ValueError(f"contact {self.name!r} has no endpoint: give it email, sms or https")
        return self

    def endpoints(self) -> list[tuple[str, str]]:
        """(kind, endpoint) for each endpoint the contact has: email, sms, https."""
        found = [("email", self.email), ("sms", self.sms), ("https", self.https)]
        return [(kind, value) for kind, value in found if value]


class PageRoute(_Strict):
    """Who is woken first, and who next if the condition lasts `escalate_after_minutes`."""

    contacts: list[ContactName] = Field(min_length=1)
    escalate_after_minutes: int = Field(ge=1, le=12 * 60)
    escalate_to: list[ContactName] = Field(min_length=1)


class NotifyRoute(_Strict):
    """Who reads working-hours alerts; they do not escalate."""

    contacts: list[ContactName] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _no_escalation(cls, data: Any) -> Any:
        if isinstance(data, dict):
            stray = sorted(k for k in data if k.startswith("escalate"))
            if stray:
                raise ValueError(f"{', '.join(stray)}: only page escalates")
        return data


class Severities(_Strict):
    page: PageRoute
    notify: NotifyRoute

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(k) for k in data if k not in SEVERITIES)
            if unknown:
                raise ValueError(
                    f"unknown severity {', '.join(map(repr, unknown))}: severities are "
                    "exactly page and notify"
                )
        return data


class Escalation(_Strict):
    """The escalation matrix: contacts, and per severity who is reached (and, for page,
    after how long it escalates and to whom)."""

    contacts: list[Contact] = Field(min_length=1)
    severities: Severities
    repeat_after_minutes: int = Field(
        default=240,
        ge=15,
        le=7 * 24 * 60,
        description="a scheduled check (verification, health, DR copy monitor) that still "
        "finds the same problems sends its message again only after this long; a change in "
        "the problems is sent at once",
    )

    def contact(self, name: str) -> Contact:
        return next(c for c in self.contacts if c.name == name)

    def audiences(self) -> dict[str, list[Contact]]:
        """Who each alert topic reaches: page and notify first line, and escalation."""
        routes = self.severities
        named = {
            "page": routes.page.contacts,
            "notify": routes.notify.contacts,
            "escalation": routes.page.escalate_to,
        }
        return {audience: [self.contact(n) for n in names] for audience, names in named.items()}

    def problems(self) -> list[str]:
        """Names that do not resolve: `escalation.severities.page.contacts.0: ...`."""
        names = [c.name for c in self.contacts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            return [f"escalation.contacts: duplicate contact names {twice}"]
        known = ", ".join(names)
        routes = self.severities
        references = {
            "page.contacts": routes.page.contacts,
            "page.escalate_to": routes.page.escalate_to,
            "notify.contacts": routes.notify.contacts,
        }
        return [
            f"escalation.severities.{field}.{index}: unknown contact {name!r} (contacts: {known})"
            for field, listed in references.items()
            for index, name in enumerate(listed)
            if name not in names
        ]


class Drills(_Strict):
    """DR drills: how often one must succeed, and the recovery time it must meet."""

    period_days: int = Field(default=92, ge=1, le=366)
    rto_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # The drill workflow (stacks/constructs/dr_drill.py, docs/runbooks/dr-drill.md).
    schedule: Annotated[str, Field(pattern=SCHEDULE_PATTERN)] | None = "cron(0 9 1 1,4,7,10 ? *)"
    cluster: Annotated[str, Field(pattern=CLUSTER_ID_PATTERN)] | None = None  # None: the first
    source: Literal["dr-copy", "primary"] = "dr-copy"
    subnets: dict[Region, list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]]] = {}
    verifier_cidrs: list[Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]] = []
    poll_seconds: int = Field(default=30, ge=1, le=3600)
    cluster_timeout_minutes: int = Field(default=60, ge=1, le=24 * 60)
    hsm_timeout_minutes: int = Field(default=45, ge=1, le=24 * 60)
    max_hsm_attempts: int = Field(default=3, ge=1, le=10)
    teardown_timeout_minutes: int = Field(default=90, ge=5, le=24 * 60)
    backup_wait_minutes: float = Field(default=30, ge=0, le=24 * 60)
    delete_drill_backups: bool = False  # only the copy job deletes backups by default
    require_key_verification: bool = True
    hsm_hour_usd: float = Field(default=1.85, ge=0, le=1000)  # UNCONFIRMED list price

    def problems(self, protected: list[str]) -> list[str]:
        if self.cluster is not None and self.cluster not in protected:
            return [f"drills.cluster: {self.cluster} is not one of protected_clusters"]
        return []


class OnDemandBackups(_Strict):
    default_strategy: Literal["add-temporary-hsm", "cycle-hsm"] = "add-temporary-hsm"
    poll_seconds: int = Field(default=30, ge=1, le=3600)
    hsm_timeout_minutes: int = Field(default=45, ge=1, le=24 * 60)
    backup_timeout_minutes: int = Field(default=60, ge=1, le=24 * 60)


class CopyRetention(_Strict):
    """Copies have no retention policy of their own: this rule prunes them."""

    keep_newest: int = Field(default=7, ge=1, le=1000)
    keep_days: int = Field(default=35, ge=0, le=3650)
    stuck_after_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)


class GoldenBackups(_Strict):
    enabled: bool = False
    period: Literal["weekly", "monthly", "quarterly"] = "monthly"
    keep: int = Field(default=12, ge=1, le=1000)


class Backups(_Strict):
    on_demand: OnDemandBackups = OnDemandBackups()
    copies: CopyRetention = CopyRetention()
    golden: GoldenBackups = GoldenBackups()
    enforce_retention: bool = Field(
        default=False, description="correct BackupRetentionPolicy drift with ModifyCluster"
    )


SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]


class Restore(_Strict):
    """Full cluster restore: where a restored cluster goes and how long steps may take."""

    subnets: dict[Annotated[str, Field(pattern=REGION_PATTERN)], list[SubnetId]] = Field(
        default_factory=dict,
        description="recovery subnets per region, one per AZ (DR region: regional disaster)",
    )
    poll_seconds: int = Field(default=30, ge=1, le=3600)
    cluster_timeout_minutes: int = Field(default=60, ge=1, le=24 * 60)
    hsm_timeout_minutes: int = Field(default=45, ge=1, le=24 * 60)
    max_hsm_attempts: int = Field(default=3, ge=1, le=10)
    trust_anchor_parameter: str | None = Field(
        default=None,
        pattern=r"^/[A-Za-z0-9_./-]{1,1010}$",
        description="SSM parameter (primary region) holding customerCA.crt",
    )
    trust_anchor_kms_key_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="the customer-managed KMS key of trust_anchor_parameter, if it is a "
        "SecureString encrypted with one (reading it needs kms:Decrypt on that key)",
    )


class HsmReplacement(_Strict):
    """Single-HSM failure: the health check and the replacement workflow."""

    auto_replace: bool = Field(
        default=True, description="start the replacement when the health check finds a failed HSM"
    )
    poll_seconds: int = Field(default=30, ge=1, le=3600)
    hsm_timeout_minutes: int = Field(default=45, ge=1, le=24 * 60)
    max_attempts: int = Field(default=3, ge=1, le=10)


class Quotas(_Strict):
    """The account's CloudHSM quotas per region (AWS defaults; both are adjustable)."""

    clusters_per_region: int = Field(default=4, ge=1)
    hsms_per_region: int = Field(default=6, ge=1)


# CloudWatch Logs' retention periods, by the name CDK gives each.
LOG_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip


class KeyVerification(_Strict):
    """Key-level checks over PKCS#11 (container-image functions in the clusters' VPC)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="the clusters' VPC")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        min_length=1, max_length=16, description="private subnets with a route to AWS APIs"
    )
    hsm_security_group_id: str = Field(
        pattern=r"^sg-[0-9a-f]{8,17}$", description="the cluster's security group"
    )
    crypto_user_secret_name: str = Field(
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$",
        description='JSON {"username", "password", "customer_ca"} of the crypto user',
    )
    clusters: list[Annotated[str, Field(pattern=CLUSTER_ID_PATTERN)]] = Field(
        default=[], description="clusters whose manifests are captured (default: all)"
    )
    capture_schedule: str = Field(default="rate(1 day)", pattern=SCHEDULE_PATTERN)
    canary_key_label: str = Field(default="hsmdr-canary", min_length=1, max_length=127)
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_minutes: int = Field(default=5, ge=1, le=15)

    @field_validator("subnet_ids")
    @classmethod
    def _distinct_subnets(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a subnet twice")
        return value


class LambdaOptions(_Strict):
    powertools_layer_version: int = Field(default=27, ge=1)
    log_retention_days: int = 90
    memory_mb: int = Field(default=256, ge=128, le=10240)

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_NAMES:
            allowed = sorted(LOG_RETENTION_NAMES)
            raise ValueError(f"must be one of CloudWatch Logs' retention periods {allowed}")
        return value


class DeploymentConfig(_Strict):
    deployment_name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
    region: Region
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    rpo_hours: PositiveHours = 24
    backup_in_progress_max_minutes: int = Field(default=180, gt=0, le=7 * 24 * 60)
    protected_clusters: list[ProtectedClusterConfig] = Field(min_length=1)
    dr_regions: list[Region] = []
    schedules: Schedules = Schedules()
    backups: Backups = Backups()
    restore: Restore = Restore()
    hsm_replacement: HsmReplacement = HsmReplacement()
    quotas: Quotas = Quotas()
    escalation: Escalation
    drills: Drills = Drills()
    lambda_options: LambdaOptions = Field(default=LambdaOptions(), alias="lambda")
    key_verification: KeyVerification | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _notifications_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "notifications" in data:
            raise ValueError(
                "notifications: replaced by escalation (contacts, and who each severity "
                "reaches): see config/example.yaml"
            )
        return data

    @model_validator(mode="before")
    @classmethod
    def _cluster_region_defaults_to_deployment(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("protected_clusters"), list):
            region = data.get("region")
            data = dict(data)
            data["protected_clusters"] = [
                {"region": region, **c} if isinstance(c, dict) else c
                for c in data["protected_clusters"]
            ]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DeploymentConfig:
        ids = [c.id for c in self.protected_clusters]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"protected_clusters: duplicate cluster ids {duplicates}")
        if self.region in self.dr_regions:
            raise ValueError(f"dr_regions: {self.region} is the deployment region itself")
        unresolved = self.escalation.problems()
        if unresolved:
            raise ValueError("; ".join(unresolved))
        if self.key_verification is not None:
            self._check_key_clusters(self.key_verification)
        drill_problems = self.drills.problems(ids)
        if drill_problems:
            raise ValueError("; ".join(drill_problems))
        return self

    def _check_key_clusters(self, keys: KeyVerification) -> None:
        # The verifier runs in the deployment region's VPC: it reaches clusters there only.
        here = {c.id for c in self.protected_clusters if c.region == self.region}
        strangers = sorted(set(keys.clusters) - here)
        if strangers:
            raise ValueError(
                f"key_verification.clusters: {strangers} are not protected clusters in "
                f"{self.region}"
            )
        if not keys.clusters and not here:
            raise ValueError(f"key_verification: no protected cluster is in {self.region}")

    def key_clusters(self) -> list[ProtectedClusterConfig]:
        """The clusters whose key manifests the scheduled capture takes."""
        keys = self.key_verification
        if keys is None:
            return []
        here = [c for c in self.protected_clusters if c.region == self.region]
        return [c for c in here if not keys.clusters or c.id in keys.clusters]

    def backup_settings(self) -> BackupSettings:
        backups = self.backups
        return BackupSettings(
            dr_regions=tuple(self.dr_regions),
            default_strategy=backups.on_demand.default_strategy,
            poll_seconds=backups.on_demand.poll_seconds,
            hsm_timeout_minutes=backups.on_demand.hsm_timeout_minutes,
            backup_timeout_minutes=backups.on_demand.backup_timeout_minutes,
            hsms_per_region_quota=self.quotas.hsms_per_region,
            copy_keep_newest=backups.copies.keep_newest,
            copy_keep_days=backups.copies.keep_days,
            copy_stuck_after_minutes=backups.copies.stuck_after_minutes,
            copy_interval_minutes=schedule_interval_minutes(self.schedules.copy_backups),
            golden_enabled=backups.golden.enabled,
            golden_period=backups.golden.period,
            golden_keep=backups.golden.keep,
            enforce_retention=backups.enforce_retention,
            trust_anchor_parameter=self.restore.trust_anchor_parameter,
        )

    def verification_settings(
        self,
        alert_topic_arn: str | None = None,
        notify_topic_arn: str | None = None,
        alert_memory_table: str | None = None,
    ) -> VerificationSettings:
        return VerificationSettings(
            deployment_name=self.deployment_name,
            clusters=tuple(c.runtime() for c in self.protected_clusters),
            rpo_hours=self.rpo_hours,
            backup_in_progress_max_minutes=self.backup_in_progress_max_minutes,
            alert_topic_arn=alert_topic_arn,
            notify_topic_arn=notify_topic_arn,
            alert_memory_table=alert_memory_table,
            repeat_alert_minutes=self.escalation.repeat_after_minutes,
        )


CRON_INTERVAL_MINUTES = 24 * 60  # a cron(...) copy schedule is taken as daily
_RATE_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 24 * 60}


def schedule_interval_minutes(expression: str) -> int:
    """How often a schedule fires: exact for rate(...), a day for cron(...)."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if match is None:
        return CRON_INTERVAL_MINUTES
    return int(match.group(1)) * _RATE_UNIT_MINUTES[match.group(2)]


def load_config(path: str | Path) -> DeploymentConfig:
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(shown, [f"cannot read the file: {error.strerror}"]) from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(shown, [f"{where}not valid YAML: {problem}"]) from error
    if not isinstance(data, dict):
        raise ConfigError(shown, ["the file must hold a mapping of settings"])
    return parse_config(data, shown)


def parse_config(data: dict[str, Any], shown: str = "config") -> DeploymentConfig:
    try:
        return DeploymentConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(shown, [_describe(e) for e in error.errors()]) from error


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = re.sub(r"^Value error, ", "", error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling against config/example.yaml)"
    elif error["type"] == "string_pattern_mismatch":
        message = f"{error['input']!r} does not match {error['ctx']['pattern']}"
    return f"{location}: {message}" if location else message
