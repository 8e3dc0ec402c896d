"""`hsmdr sandbox vault`: production is compromised and the recovery account restores
from its vault (docs/runbooks/vault.md).

The run: seed production (SoftHSM2 tokens behind the clusters with `keys`), run
production's share job and one vault refresh in the recovery account, then an attacker
with production's rights deletes every cluster, backup and copy there and tries to
delete the vault's backups (refused: they belong to another account); the recovery
account's restore state machine then restores the protected cluster from the newest
vault backup, and the restored token's keys are compared with production's (KCVs).
With keys, the vault has its own key verifier (`recovery_account.key_verification`):
the refresh captures the vault cluster's manifest, and the restore checks the restored
cluster against it; the sandbox's own KCV comparison with production's keys is kept
beside it.
Everything reported is what the run recorded: the refresh's own timestamps, the
emulator's drawn durations, the restore's report, what exists afterwards.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

from lambdas.shared.vault_tags import VAULT_KEY
from sandbox.session import SANDBOX_CONFIG, Sandbox
from stacks.names import restore_state_machine_name, vault_stack_name

RECOVERY_ACCOUNT = "210987654321"
# Placeholders: the sandbox puts the recovery account's own subnets in their place.
VAULT_SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
# The vault's own verifier: placeholders too (the sandbox's VPC and subnets stand in),
# and the secret the sandbox creates in the recovery account as its operator would.
VAULT_KEY_VERIFICATION = {
    "vpc_id": "vpc-0eeeeeeeeeeeeeeee",
    "subnet_ids": ["subnet-0eeeeeeeeeeeeeeee"],
    "crypto_user_secret_name": "hsmdr-sandbox/vault-key-verifier",
}
SHARE_SCHEDULE = "BackupSharingJobSchedule"
REFRESH_WORKFLOW = "VaultRefreshWorkflow"
# The profile steps a vault refresh's HSM lives through: its floor.
HSM_FLOOR_STEPS = ("hsm_create", "backup_create", "hsm_delete")


def vault_config(base: Path = SANDBOX_CONFIG, *, keys: bool = True) -> Path:
    """The sandbox deployment config plus `recovery_account` (with `keys`, its
    `key_verification`), in a temporary file."""
    data: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["recovery_account"] = {
        "account": RECOVERY_ACCOUNT,
        "subnets": {data["region"]: list(VAULT_SUBNETS)},
    }
    if keys:
        data["recovery_account"]["key_verification"] = dict(VAULT_KEY_VERIFICATION)
    name = "hsmdr-sandbox-vault-keys.yaml" if keys else "hsmdr-sandbox-vault.yaml"
    path = Path(tempfile.gettempdir()) / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def recover_from_vault(*, profile: str | None = None, keys: bool = True) -> dict[str, Any]:
    """The whole story; `keys`: SoftHSM2 tokens behind the clusters, keys compared."""
    with Sandbox(vault_config(keys=keys), profile=profile, key_store=keys) as sandbox:
        return recover(sandbox, keys=keys)


def recover(sandbox: Sandbox, *, keys: bool) -> dict[str, Any]:
    """The story in a running sandbox deployed from `vault_config()`."""
    config = sandbox.config
    spec = config.protected_clusters[0]
    region = config.region  # the vault region: recovery_account.region defaults to it
    vault = sandbox.deployments[vault_stack_name(config.deployment_name)]
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    sandbox.seed_protected_clusters()
    manifest = _capture_manifest(sandbox, spec.id) if keys else None

    shared = share(sandbox)
    shared_at = _created(sandbox.world.backups(region), shared)
    drawn = len(recovery.emulated_durations())
    refresh = vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600)
    refreshed = _refresh_run(refresh.output, spec.id)
    floor_steps = _floor_steps(recovery.emulated_durations()[drawn:])
    vault_backups = _vault_backups(recovery, region, config.deployment_name)
    after_refresh = datetime.now(UTC)
    newest_vault = max((b["CreateTimestamp"] for b in vault_backups), default=None)

    compromise = compromise_production(sandbox, vault_backups)
    survived = _vault_backups(recovery, region, config.deployment_name)

    restored = vault.run_state_machine(
        restore_state_machine_name(config.deployment_name),
        # by name, as an operator who lost production knows it (the config maps it to the id)
        {"source_cluster_id": spec.name or spec.id, "poll_seconds": 1},
        timeout=900,
    )
    report = restored.output if isinstance(restored.output, dict) else {}
    finished = datetime.now(UTC)
    cluster_id = report.get("cluster_id")
    key_check = _check_keys(sandbox, manifest, cluster_id) if manifest and cluster_id else None
    leaked = leaked_resources(recovery.clusters(region), report, config.deployment_name)
    succeeded = (
        refresh.status == "SUCCEEDED"
        and restored.status == "SUCCEEDED"
        and bool(survived)
        and not compromise["vault_backups_deleted"]
        and not any(leaked.values())
        and (key_check is None or key_check["status"] == "SUCCEEDED")
        # with keys, the restore checked them itself against the vault's own manifest
        and (not keys or (report.get("key_verification_report") or {}).get("status") == "SUCCEEDED")
    )
    return {
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "source_cluster_id": spec.id,
        "recovery_account": RECOVERY_ACCOUNT,
        "region": region,
        "shared_backup_id": shared,
        "refresh": {
            "status": refresh.status,
            "error": refresh.error,
            "cause": refresh.cause,
            "execution_arn": refresh.execution_arn,
            "vault_backup_id": (refreshed.get("backup") or {}).get("backup_id"),
            # The vault's own manifest of that backup (recovery_account.key_verification)
            "keys": refreshed.get("keys"),
        },
        "vault_backups": [b["BackupId"] for b in survived],
        # How long the refresh's HSM billed: from its CreateHsm to the refresh seeing it
        # gone (the refresh's own record), against the profile's durations it drew.
        "hsm_seconds": _hsm_seconds(refreshed),
        "hsm_floor_seconds": round(sum(floor_steps.values()), 3),
        "hsm_floor_steps": floor_steps,
        # Right after the refresh: the vault holds data as old as the shared backup.
        "vault_age_seconds": _age(newest_vault, after_refresh),
        "source_backup_age_seconds": _age(shared_at, after_refresh),
        "compromise": compromise,
        "restore": {
            "status": restored.status,
            "error": restored.error,
            "cause": restored.cause,
            "execution_arn": restored.execution_arn,
            "source_cluster_id": report.get("source_cluster_id"),
            "backup_id": (report.get("backup") or {}).get("backup_id"),
            "key_verification": report.get("key_verification"),
            "key_verification_report": report.get("key_verification_report"),
        },
        "cluster_id": cluster_id,
        # The restored data is as old as the production backup the vault pulled.
        "rpo_seconds": _age(shared_at, finished),
        "rto_seconds": report.get("rto_seconds"),
        "keys_verified": key_check,
        "leaked_resources": leaked,
        **sandbox.permissions_report(),
    }


def share(sandbox: Sandbox) -> str:
    """Production's share job, as its schedule runs it: the backup it shared."""
    fired = sandbox.deployment.fire_schedule(SHARE_SCHEDULE)
    invocation = fired.invocation
    if invocation is None or invocation.function_error is not None:
        raise RuntimeError(f"the share job failed: {invocation.payload if invocation else None}")
    shared = list(invocation.payload["shared"])
    if not shared:
        raise RuntimeError("the share job shared nothing")
    return str(shared[0])


def compromise_production(sandbox: Sandbox, vault_backups: list[dict[str, Any]]) -> dict[str, Any]:
    """An attacker with production's rights (the account's own calls): every HSM, cluster,
    backup and copy of every region deleted; then each vault backup's deletion tried
    from production, which CloudHSM refuses (another account's backup)."""
    config = sandbox.config
    deleted: dict[str, list[str]] = {"hsms": [], "clusters": [], "backups": []}
    for region in dict.fromkeys([config.region, *config.dr_regions]):
        client = boto3.client("cloudhsmv2", region_name=region)
        for cluster in sandbox.world.clusters(region):
            if cluster["State"] == "DELETED":
                continue
            for hsm in cluster["Hsms"]:
                client.delete_hsm(ClusterId=cluster["ClusterId"], HsmId=hsm["HsmId"])
                sandbox.world.settle()
                deleted["hsms"].append(hsm["HsmId"])
            client.delete_cluster(ClusterId=cluster["ClusterId"])
            sandbox.world.settle()
            deleted["clusters"].append(cluster["ClusterId"])
        for backup in sandbox.world.backups(region):
            if backup["BackupState"] in ("READY", "CREATE_IN_PROGRESS"):
                client.delete_backup(BackupId=backup["BackupId"])
                deleted["backups"].append(backup["BackupId"])
    refused, vault_deleted = [], []
    for backup in vault_backups:
        region = backup["BackupArn"].split(":")[3]
        client = boto3.client("cloudhsmv2", region_name=region)
        try:
            client.delete_backup(BackupId=backup["BackupId"])
        except ClientError as error:
            refused.append(
                {"backup_id": backup["BackupId"], "error": error.response["Error"]["Code"]}
            )
        else:
            vault_deleted.append(backup["BackupId"])
    left = [
        b["BackupId"]
        for region in dict.fromkeys([config.region, *config.dr_regions])
        for b in sandbox.world.backups(region)
        if b["BackupState"] in ("READY", "CREATE_IN_PROGRESS")
    ]
    return {
        "deleted": deleted,
        "production_backups_left": left,
        "vault_deletions_refused": refused,
        "vault_backups_deleted": vault_deleted,
    }


def leaked_resources(
    clusters: list[dict[str, Any]], report: dict[str, Any], deployment: str
) -> dict[str, list[str]]:
    """In the recovery account after the restore: clusters that should not be there
    (neither the restored one nor a vault cluster) and HSMs that should not (any in a
    vault cluster, which must hold none, or one the restore's report does not name)."""
    live = [c for c in clusters if c["State"] != "DELETED"]
    restored = report.get("cluster_id")
    reported = {h.get("hsm_id") for h in report.get("hsms", [])}

    def is_vault(cluster: dict[str, Any]) -> bool:
        return {"Key": VAULT_KEY, "Value": deployment} in cluster.get("TagList", [])

    return {
        "clusters": sorted(
            c["ClusterId"] for c in live if c["ClusterId"] != restored and not is_vault(c)
        ),
        "hsms": sorted(
            h["HsmId"]
            for c in live
            for h in c["Hsms"]
            if h["State"] != "DELETED"
            and (c["ClusterId"] != restored or h["HsmId"] not in reported)
        ),
    }


def _vault_backups(world: Any, region: str, deployment: str) -> list[dict[str, Any]]:
    return [
        b
        for b in world.backups(region)
        if b["BackupState"] == "READY" and {"Key": VAULT_KEY, "Value": deployment} in b["TagList"]
    ]


def _refresh_run(output: Any, source_cluster: str) -> dict[str, Any]:
    """The refresh's record of its run for `source_cluster` (the state machine's output:
    one job per shared backup it pulled, under `refreshed`)."""
    refreshed = output.get("refreshed") if isinstance(output, dict) else None
    for item in refreshed or []:
        job = item.get("job") if isinstance(item, dict) else None
        if (
            isinstance(job, dict)
            and (job.get("refresh") or {}).get("source_cluster") == source_cluster
        ):
            run = job.get("run")
            return run if isinstance(run, dict) else {}
    return {}


def _hsm_seconds(run: dict[str, Any]) -> float | None:
    created, gone = run.get("hsm_created_at"), run.get("hsm_gone_at")
    if not created or not gone:
        return None
    return round(
        (datetime.fromisoformat(gone) - datetime.fromisoformat(created)).total_seconds(), 3
    )


def _floor_steps(drawn: list[tuple[str, Any]]) -> dict[str, float]:
    """Each floor step's emulated seconds as drawn for the refresh's HSM (summed if a
    DEGRADED HSM made the refresh draw a step twice)."""
    steps = dict.fromkeys(HSM_FLOOR_STEPS, 0.0)
    for step, duration in drawn:
        if step in steps:
            steps[step] = round(steps[step] + float(duration.total_seconds()), 3)
    return steps


def _created(backups: list[dict[str, Any]], backup_id: str) -> datetime | None:
    return next((b["CreateTimestamp"] for b in backups if b["BackupId"] == backup_id), None)


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 3)


def _capture_manifest(sandbox: Sandbox, cluster_id: str) -> Any:
    from lambdas.keycheck.users import FileUserLister
    from lambdas.keycheck.verifier import capture_manifest

    store = sandbox.key_store
    return capture_manifest(
        cluster_id, store.connection(cluster_id), FileUserLister(store.users_path_template)
    )


def _check_keys(sandbox: Sandbox, manifest: Any, cluster_id: str) -> dict[str, Any]:
    """Production's keys (captured before the compromise) on the restored cluster's
    token: every key, its KCV, the canary."""
    from lambdas.keycheck.users import FileUserLister
    from lambdas.keycheck.verifier import check_keys
    from sandbox.softhsm_keystore import CANARY_LABEL

    store = sandbox.key_store
    report = check_keys(
        manifest,
        cluster_id=cluster_id,
        connection=store.connection(cluster_id),
        users=FileUserLister(store.users_path_template),
        canary_label=CANARY_LABEL,
    )
    result: dict[str, Any] = report.to_dict()
    result["checked_by"] = "the sandbox (production's key verifier is not in the recovery account)"
    result["manifest_keys"] = len(manifest.keys)
    return result
