"""Lambda settings: the environment that the stack sets, read back into a model."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from lambdas.shared.env import Env
from lambdas.shared.errors import InvalidInput
from lambdas.shared.protected import ProtectedCluster
from lambdas.shared.severity import NOTIFY, Severity


class SettingsError(RuntimeError):
    """The function's environment is not what the stack writes: a deployment defect."""


@dataclass(frozen=True)
class VerificationSettings:
    deployment_name: str
    clusters: tuple[ProtectedCluster, ...]
    rpo_hours: float
    backup_in_progress_max_minutes: int
    alert_topic_arn: str | None = None  # page severity
    notify_topic_arn: str | None = None
    # Scheduled checks send the same problems again only after repeat_alert_minutes.
    alert_memory_table: str | None = None
    repeat_alert_minutes: int = 240

    @property
    def repeat_every(self) -> timedelta:
        return timedelta(minutes=self.repeat_alert_minutes)

    @property
    def alert_topics(self) -> AlertTopics:
        return AlertTopics(page=self.alert_topic_arn, notify=self.notify_topic_arn)

    def protected(self, cluster_id: str) -> ProtectedCluster:
        """The protected cluster, or InvalidInput before any call names it."""
        spec = next((c for c in self.clusters if c.id == cluster_id), None)
        if spec is None:
            raise InvalidInput(
                "cluster_id", f"{cluster_id} is not a protected cluster of this deployment"
            )
        return spec

    def requested_cluster_ids(self, event: Mapping[str, Any]) -> tuple[str, ...] | None:
        """An event's optional `cluster_ids`: protected clusters only (None: all)."""
        cluster_ids = event.get("cluster_ids")
        if cluster_ids is None:
            return None
        if not isinstance(cluster_ids, list) or not all(isinstance(i, str) for i in cluster_ids):
            raise InvalidInput("cluster_ids", "must be a list of cluster ids")
        unknown = sorted(set(cluster_ids) - {c.id for c in self.clusters})
        if unknown:
            raise InvalidInput("cluster_ids", f"{unknown} are not protected by this deployment")
        return tuple(cluster_ids)

    def rpo_hours_for(self, cluster: ProtectedCluster) -> float:
        return cluster.rpo_hours or self.rpo_hours

    def to_env(self) -> dict[str, str]:
        """The environment variables that `from_env` reads back (used by the stack)."""
        env = {
            Env.DEPLOYMENT_NAME: self.deployment_name,
            Env.PROTECTED_CLUSTERS: json.dumps(
                [c.to_dict() for c in self.clusters], separators=(",", ":")
            ),
            Env.RPO_HOURS: f"{self.rpo_hours:g}",
            Env.BACKUP_IN_PROGRESS_MAX_MINUTES: str(self.backup_in_progress_max_minutes),
        }
        if self.alert_topic_arn:
            env[Env.ALERT_TOPIC_ARN] = self.alert_topic_arn
        if self.notify_topic_arn:
            env[Env.NOTIFY_TOPIC_ARN] = self.notify_topic_arn
        if self.alert_memory_table:
            env[Env.ALERT_MEMORY_TABLE] = self.alert_memory_table
        env[Env.REPEAT_ALERT_MINUTES] = str(self.repeat_alert_minutes)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VerificationSettings:
        environ = os.environ if environ is None else environ
        return _parse(
            environ.get(Env.DEPLOYMENT_NAME, ""),
            environ.get(Env.PROTECTED_CLUSTERS, ""),
            environ.get(Env.RPO_HOURS, ""),
            environ.get(Env.BACKUP_IN_PROGRESS_MAX_MINUTES, ""),
            topic=environ.get(Env.ALERT_TOPIC_ARN) or None,
            notify_topic=environ.get(Env.NOTIFY_TOPIC_ARN) or None,
            memory_table=environ.get(Env.ALERT_MEMORY_TABLE) or None,
            repeat_minutes=environ.get(Env.REPEAT_ALERT_MINUTES) or "240",
        )


@lru_cache(maxsize=8)
def _parse(
    name: str,
    clusters: str,
    rpo: str,
    in_progress: str,
    *,
    topic: str | None,
    notify_topic: str | None,
    memory_table: str | None,
    repeat_minutes: str,
) -> VerificationSettings:
    # Cached on the raw strings: a warm Lambda parses once, and an in-process
    # sandbox that runs several deployments still gets each one's own settings.
    try:
        return VerificationSettings(
            deployment_name=name,
            clusters=tuple(ProtectedCluster.from_dict(c) for c in json.loads(clusters)),
            rpo_hours=float(rpo),
            backup_in_progress_max_minutes=int(in_progress),
            alert_topic_arn=topic,
            notify_topic_arn=notify_topic,
            alert_memory_table=memory_table,
            repeat_alert_minutes=int(repeat_minutes),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"function environment is incomplete or malformed: {error}") from error


@dataclass(frozen=True)
class BackupSettings:
    """How backups are forced, copied, pruned and kept (the config's `backups`)."""

    dr_regions: tuple[str, ...] = ()
    default_strategy: str = "add-temporary-hsm"
    poll_seconds: int = 30
    hsm_timeout_minutes: int = 45
    backup_timeout_minutes: int = 60
    hsms_per_region_quota: int = 6
    copy_keep_newest: int = 7
    copy_keep_days: int = 35
    copy_stuck_after_minutes: int = 240
    copy_interval_minutes: int = 24 * 60  # how often the copy schedule runs
    golden_enabled: bool = False
    golden_period: str = "monthly"
    golden_keep: int = 12
    enforce_retention: bool = False
    # customerCA.crt in SSM (primary region): the copy job replicates it to the DR regions.
    trust_anchor_parameter: str | None = None

    def to_env(self) -> dict[str, str]:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}
        return {Env.BACKUP_SETTINGS: json.dumps(data, separators=(",", ":"))}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BackupSettings:
        environ = os.environ if environ is None else environ
        return _parse_backup_settings(environ.get(Env.BACKUP_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse_backup_settings(raw: str) -> BackupSettings:
    try:
        data = json.loads(raw)
        data["dr_regions"] = tuple(data.get("dr_regions", ()))
        return BackupSettings(**data)
    except (KeyError, TypeError, ValueError) as error:
        raise SettingsError(f"{Env.BACKUP_SETTINGS} is missing or malformed: {error}") from error


@dataclass(frozen=True)
class AlertTopics:
    page: str | None = None
    notify: str | None = None

    def for_severity(self, severity: Severity) -> str | None:
        # A stack without a notify topic still gets its notices read: on the page topic.
        if severity == NOTIFY and self.notify:
            return self.notify
        return self.page
