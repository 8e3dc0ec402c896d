"""Small builders for models, so tests state only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.shared.models import Backup, Cluster, Hsm
from lambdas.shared.protected import ProtectedCluster

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CLUSTER_ID = "cluster-abcdefghijk"


def spec(**overrides: Any) -> ProtectedCluster:
    values: dict[str, Any] = {
        "id": CLUSTER_ID,
        "name": "payments",
        "region": "us-east-1",
        "hsms_per_az": {"us-east-1a": 1, "us-east-1b": 1},
    }
    values.update(overrides)
    return ProtectedCluster(**values)


def hsm(az: str = "us-east-1a", state: str = "ACTIVE", n: int = 1) -> Hsm:
    return Hsm(
        hsm_id=f"hsm-abcdefghij{n}",
        cluster_id=CLUSTER_ID,
        availability_zone=az,
        state=state,
        eni_ip=f"10.0.{n}.10",
    )


def cluster(*hsms: Hsm, **overrides: Any) -> Cluster:
    values: dict[str, Any] = {
        "cluster_id": CLUSTER_ID,
        "state": "ACTIVE",
        "hsm_type": "hsm2m.medium",
        "mode": "FIPS",
        "hsms": hsms or (hsm("us-east-1a", n=1), hsm("us-east-1b", n=2)),
    }
    values.update(overrides)
    return Cluster(**values)


def backup(age: timedelta = timedelta(hours=2), state: str = "READY", **overrides: Any) -> Backup:
    values: dict[str, Any] = {
        "backup_id": "backup-abcdefghijk",
        "state": state,
        "create_timestamp": NOW - age,
        "cluster_id": CLUSTER_ID,
        "hsm_type": "hsm2m.medium",
        "mode": "FIPS",
    }
    values.update(overrides)
    return Backup(**values)
