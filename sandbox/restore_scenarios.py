"""The complete-cluster-failure restore in the sandbox: lose the protected cluster as a
disaster would (its HSMs and the cluster deleted through the API, the backups left),
run the synthesized restore state machine, and check what exists afterwards."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import yaml

from lambdas.shared.protected import (
    POSTURE_COLD,
    STANDBY_POSTURES,
)
from presentation.timeline import timeline
from sandbox.scenarios import (
    alerts,
    keep_standby,
    posture_config,
)
from sandbox.session import SANDBOX_CONFIG, SEEDED_BACKUP_AGES, FaultError, FaultSpec, Sandbox
from stacks.config import load_config
from stacks.names import restore_state_machine_name

if TYPE_CHECKING:
    from sandbox.runner import Deployment


HSM_FAILURE_MID_RESTORE = "hsm-failure"  # without an argument: hits the restored cluster


def seed_trust_anchor(sandbox: Sandbox) -> str | None:
    """Store customerCA.crt where the config says, as the operator did at initialization."""
    return sandbox.seed_trust_anchor()


def lose_cluster(sandbox: Sandbox, cluster_id: str, region: str) -> None:
    """The disaster: every HSM, one after the other, and then the cluster deleted; its
    backups remain. Each HSM's removal makes a backup, and the next removal waits until
    the previous HSM is gone, so those backups are an HSM deletion apart: the newest is
    one backup at any timestamp precision, what the restore (and a test) must pick."""
    client = boto3.client("cloudhsmv2", region_name=region)
    for hsm in sandbox.world.hsms(cluster_id):
        client.delete_hsm(ClusterId=cluster_id, HsmId=hsm["HsmId"])
        sandbox.world.settle()
    client.delete_cluster(ClusterId=cluster_id)
    sandbox.world.settle()


def subnets(sandbox: Sandbox, region: str) -> list[str]:
    """The region's sandbox subnets, one per AZ in zone order (a, b, then spares)."""
    network = sandbox.networks[region]
    return [network.subnets[zone] for zone in sorted(network.subnets)]


def deployment_for(sandbox: Sandbox, region: str) -> Deployment:
    """Restore from the stack in the target region when there is one (a DR stack)."""
    if region != sandbox.config.region and region in sandbox.config.dr_regions:
        return sandbox.dr_deployment(region)
    return sandbox.deployment


@contextmanager
def hsm_failure_once_serving(sandbox: Sandbox, region: str, known: set[str]) -> Iterator[None]:
    """The `hsm-failure` fault in the middle of a restore: the restored cluster's first
    HSM turns DEGRADED once it is ACTIVE and the next HSM is being created. Recorded in
    `sandbox.applied_faults` as `hsm-failure:CLUSTER` once it fired (plain `hsm-failure`,
    so it reports as not fired, if the restore never got there)."""
    stop = threading.Event()
    failed: list[str] = []

    def watch() -> None:
        while not stop.wait(0.02):
            for cluster in sandbox.world.clusters(region):
                hsms = cluster["Hsms"]
                states = sorted(h["State"] for h in hsms)
                if cluster["ClusterId"] not in known and states == ["ACTIVE", "CREATE_IN_PROGRESS"]:
                    [first] = [h for h in hsms if h["State"] == "ACTIVE"]
                    sandbox.world.faults.enable(
                        "hsm-failure", cluster_id=cluster["ClusterId"], hsm_id=first["HsmId"]
                    )
                    failed.append(cluster["ClusterId"])
                    return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        sandbox.applied_faults.append(FaultSpec(HSM_FAILURE_MID_RESTORE, next(iter(failed), None)))


def run_restore(
    sandbox: Sandbox,
    execution_input: dict[str, Any],
    *,
    timeout: float = 120,
    fail_hsm_mid_restore: bool = False,
) -> dict[str, Any]:
    """Run the restore state machine and report it with what exists afterwards."""
    region = str(execution_input.get("region") or sandbox.config.region)
    deployment = deployment_for(sandbox, region)
    known = {c["ClusterId"] for c in sandbox.world.clusters(region)}
    seen = len(deployment.messages())
    name = restore_state_machine_name(sandbox.config.deployment_name)
    if fail_hsm_mid_restore:
        with hsm_failure_once_serving(sandbox, region, known):
            execution = deployment.run_state_machine(name, execution_input, timeout=timeout)
    else:
        execution = deployment.run_state_machine(name, execution_input, timeout=timeout)
    output = execution.output if isinstance(execution.output, dict) else {}
    restore_id = execution_input.get("restore_id") or execution.execution_arn.rsplit(":", 1)[1]
    existing = [
        _described(c)
        for c in sandbox.world.clusters(region)
        if c["State"] != "DELETED"
        and (c["ClusterId"] not in known or _tag(c, "hsmdr:restore-id") == restore_id)
    ]
    succeeded = execution.status == "SUCCEEDED"
    return {
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "execution_status": execution.status,
        "execution_arn": execution.execution_arn,
        "input": execution_input,
        "error": execution.error,
        "cause": execution.cause,
        "timeline": timeline(execution.events),
        "result": output or None,
        "cluster_id": output.get("cluster_id"),
        "hsms": output.get("hsms", []),
        "rto_seconds": output.get("rto_seconds"),
        "rpo_seconds": output.get("rpo_seconds"),
        "time_to_full_ha_seconds": output.get("time_to_full_ha_seconds"),
        # On success: anything beyond what the report says exists. On failure nothing is
        # "leaked": the restore keeps what it made for an engineer, listed in `existing`.
        "leaked_resources": leaked(output, existing) if succeeded else {"clusters": [], "hsms": []},
        "existing": existing,
        "alerts": alerts(sandbox, seen, deployment),
        **sandbox.permissions_report(),
    }


def leaked(report: dict[str, Any], existing: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    reported_hsms = {h["hsm_id"] for h in report.get("hsms", [])}
    return {
        "clusters": sorted(
            c["cluster_id"] for c in existing if c["cluster_id"] != report.get("cluster_id")
        ),
        "hsms": sorted(
            h["hsm_id"] for c in existing for h in c["hsms"] if h["hsm_id"] not in reported_hsms
        ),
    }


def _tag(cluster: dict[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in cluster.get("TagList", []) if t["Key"] == key), None)


def _described(cluster: dict[str, Any]) -> dict[str, Any]:
    return {
        "cluster_id": cluster["ClusterId"],
        "state": cluster["State"],
        "source_backup_id": cluster.get("SourceBackupId"),
        "tags": {t["Key"]: t["Value"] for t in cluster.get("TagList", [])},
        "hsms": [
            {
                "hsm_id": h["HsmId"],
                "availability_zone": h["AvailabilityZone"],
                "eni_ip": h.get("EniIp"),
                "state": h["State"],
            }
            for h in cluster["Hsms"]
            if h["State"] != "DELETED"
        ],
    }


def parameters(region: str, path: str) -> dict[str, str]:
    """SSM parameters under a path (the published client configuration)."""
    ssm = boto3.client("ssm", region_name=region)
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def restore_after_disaster(
    faults: Sequence[str] = (),
    *,
    region: str | None = None,
    profile: str | None = None,
    key_verification: bool | None = None,
    posture: str = POSTURE_COLD,
) -> dict[str, Any]:
    """`hsmdr sandbox restore`: seed, lose the protected cluster, restore it.

    `key_verification` (default: on when a key fault is given): deploy the sandbox
    config with `key_verification`, back the clusters with SoftHSM2 tokens and seed
    the key manifest, so the restore's VerifyKeys checks the restored token for real.

    `posture` pilot-light: the first protected cluster keeps a pilot light in the
    target region (default: the first DR region); the DR stack's standby refresher
    runs once and its standby becomes ACTIVE before the disaster, and the restore
    adopts it. warm-standby: the same, and the refresher runs again to give the
    standby its HSM, ACTIVE before the disaster: the restore re-points the clients
    and adds HSMs for HA. The report adds `posture`, `posture_reason` and `standby`."""
    from sandbox.emulator.faults import KEY_FAULTS

    mid_restore = list(faults).count(HSM_FAILURE_MID_RESTORE)
    if mid_restore > 1:
        raise FaultError(
            f"--fault {HSM_FAILURE_MID_RESTORE} is given {mid_restore} times: it fails the "
            "restored cluster's first HSM once"
        )
    key_faults = sorted({FaultSpec.parse(f).name for f in faults} & set(KEY_FAULTS))
    if key_verification is None:
        key_verification = bool(key_faults)
    elif key_faults and not key_verification:
        raise FaultError(
            f"--fault {key_faults[0]} damages keys, which only a restore with key "
            "verification checks: leave --no-key-verification out"
        )
    base = SANDBOX_CONFIG
    if posture in STANDBY_POSTURES:
        region = region or load_config(SANDBOX_CONFIG).dr_regions[0]
        base = posture_config(region, posture)
    elif posture != POSTURE_COLD:
        raise FaultError(
            f"--posture {posture}: the sandbox restores cold, pilot-light or warm-standby"
        )
    with _restore_sandbox(profile, key_verification=key_verification, base=base) as sandbox:
        spec = sandbox.config.protected_clusters[0]
        target = region or spec.region
        if target not in sandbox.networks:
            raise ValueError(
                f"region: the sandbox deploys to {sorted(sandbox.networks)}, not {target}"
            )
        if not key_verification:
            sandbox.seed_protected_clusters()
        seed_trust_anchor(sandbox)
        standby = keep_standby(sandbox, target, posture) if posture in STANDBY_POSTURES else None
        lose_cluster(sandbox, spec.id, spec.region)
        sandbox.apply_faults([f for f in faults if f != HSM_FAILURE_MID_RESTORE], region=target)
        started = time.monotonic()
        drawn = len(sandbox.world.emulated_durations())
        report = run_restore(
            sandbox,
            {
                "source_cluster_id": spec.id,
                "region": target,
                "subnet_ids": subnets(sandbox, target),
                "poll_seconds": 1,
            },
            fail_hsm_mid_restore=bool(mid_restore),
        )
        report["wall_seconds"] = round(time.monotonic() - started, 3)
        # What each CloudHSM transition of the restore took in emulated time (jitter
        # drawn): the floors a measurement is held to, never the wall clock.
        report["emulated_durations"] = [
            {"step": step, "seconds": duration.total_seconds()}
            for step, duration in sandbox.world.emulated_durations()[drawn:]
        ]
        result = report.get("result") or {}
        report["posture"] = result.get("posture", POSTURE_COLD)
        report["posture_reason"] = result.get("posture_reason", "")
        report["standby"] = standby
        report.update(sandbox.faults_fired())
        report["client_config"] = parameters(target, f"/hsmdr/{sandbox.config.deployment_name}/")
        return report


@contextmanager
def _restore_sandbox(
    profile: str | None, *, key_verification: bool, base: Path = SANDBOX_CONFIG
) -> Iterator[Sandbox]:
    if not key_verification:
        with Sandbox(base, profile=profile) as sandbox:
            yield sandbox
        return
    with key_verification_sandbox(profile=profile, base=base) as sandbox:
        yield sandbox


# Placeholders: the config needs them, the sandbox network has its own ids.
KEY_VERIFICATION = {
    "vpc_id": "vpc-0d0d0d0d0d0d0d0d0",
    "subnet_ids": ["subnet-0d0d0d0d0d0d0d0d0"],
    "hsm_security_group_id": "sg-0d0d0d0d0d0d0d0d0",
    "crypto_user_secret_name": "hsmdr-sandbox/key-verifier",
}
MANIFEST_LEAD = timedelta(hours=1)  # the seeded manifest predates the oldest backup by this


def key_verification_config(base: Path = SANDBOX_CONFIG) -> Path:
    """The sandbox deployment config plus `key_verification`, in a temporary file."""
    data: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["key_verification"] = dict(KEY_VERIFICATION)
    path = Path(tempfile.gettempdir()) / "hsmdr-sandbox-restore-keys.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def key_verification_sandbox(
    *,
    profile: str | None = None,
    templates: dict[str, dict[str, Any]] | None = None,
    base: Path = SANDBOX_CONFIG,
) -> Iterator[Sandbox]:
    """Key verification deployed, every cluster backed by a SoftHSM2 token, the
    protected clusters seeded with a key manifest older than every seeded backup."""
    from sandbox.key_store_setup import seed_manifest

    path = key_verification_config(base)
    with Sandbox(path, profile=profile, templates=templates, key_store=True) as sandbox:
        sandbox.seed_protected_clusters()
        captured = datetime.now(UTC) - max(SEEDED_BACKUP_AGES) - MANIFEST_LEAD
        for spec in sandbox.config.protected_clusters:
            seed_manifest(sandbox, spec.id, captured)
        yield sandbox
