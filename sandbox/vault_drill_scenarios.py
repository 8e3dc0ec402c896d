"""`hsmdr sandbox vault-drill`: the quarterly DR drill in the recovery account, from the
vault (docs/runbooks/vault.md, "Drill in the recovery account").

The run: seed production, run production's share job and one vault refresh in the
recovery account (so the vault holds a backup), then the vault stack's `dr-drill` state
machine restores the newest READY vault backup into a drill cluster in the vault region,
measures, tears down and reports. Production is left alone (unlike `hsmdr sandbox
vault`, which deletes it). Everything reported is what the run recorded or what the
emulator holds: the vault's clusters and backups before and after the drill, and what
the drill left in the recovery account (nothing may be).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from lambdas.shared.vault_tags import DRILL_KEY, VAULT_KEY
from sandbox.session import Sandbox
from sandbox.vault_scenarios import RECOVERY_ACCOUNT, REFRESH_WORKFLOW, share, vault_config
from stacks.names import dr_drill_state_machine_name, vault_stack_name

GONE = ("DELETED", "PENDING_DELETION")
# A second protected cluster, for the scheduled round over every cluster.
LEDGER = {
    "id": "cluster-sandboxledger",
    "name": "ledger",
    "hsms_per_az": {"us-east-1a": 1},
    "hsm_type": "hsm2m.medium",
    "mode": "FIPS",
}


def two_cluster_vault_config() -> Path:
    """vault_config() without a key verifier, with a second protected cluster and a 1 s
    drill poll, in a temporary file."""
    data: dict[str, Any] = yaml.safe_load(vault_config(keys=False).read_text(encoding="utf-8"))
    data["protected_clusters"] = [*data["protected_clusters"], dict(LEDGER)]
    # A scheduled run takes its poll from the config: emulated clusters take seconds.
    data["drills"] = {**(data.get("drills") or {}), "poll_seconds": 1}
    path = Path(tempfile.gettempdir()) / "hsmdr-sandbox-vault-two-clusters.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def drill_the_vault(*, profile: str | None = None, keys: bool = True) -> dict[str, Any]:
    """`keys`: SoftHSM2 tokens behind the clusters and the vault's own key verifier, so
    the drill checks its cluster's keys against the vault's manifest."""
    with Sandbox(vault_config(keys=keys), profile=profile, key_store=keys) as sandbox:
        return vault_drill(sandbox)


def vault_drill(sandbox: Sandbox, execution_input: dict[str, Any] | None = None) -> dict[str, Any]:
    """Share, refresh, then the vault's drill; in a sandbox deployed from vault_config()."""
    config = sandbox.config
    region = config.region  # the vault region: recovery_account.region defaults to it
    deployment = config.deployment_name
    vault = sandbox.deployments[vault_stack_name(deployment)]
    recovery = sandbox.worlds[RECOVERY_ACCOUNT]
    sandbox.seed_protected_clusters()
    share(sandbox)
    refresh = vault.run_state_machine(REFRESH_WORKFLOW, {}, timeout=600)
    before = vault_inventory(recovery, region, deployment)
    clusters_before = {c["ClusterId"] for c in recovery.clusters(region)}
    backups_before = {b["BackupId"] for b in recovery.backups(region)}

    drilled = vault.run_state_machine(
        dr_drill_state_machine_name(deployment),
        {"poll_seconds": 1, "trigger": "sandbox", **(execution_input or {})},
        timeout=900,
    )
    report = drilled.output if isinstance(drilled.output, dict) else {}
    after = vault_inventory(recovery, region, deployment)
    left = leftovers(recovery, region, clusters_before, backups_before)
    measured = report.get("measurements") or {}
    succeeded = (
        refresh.status == "SUCCEEDED"
        and drilled.status == "SUCCEEDED"
        and after == before
        and bool(before["backups"])
        and not any(left.values())
    )
    return {
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "recovery_account": RECOVERY_ACCOUNT,
        "region": region,
        "refresh": {"status": refresh.status, "error": refresh.error, "cause": refresh.cause},
        "drill": {
            "status": drilled.status,
            "error": drilled.error,
            "cause": drilled.cause,
            "execution_arn": drilled.execution_arn,
            "source": report.get("source"),
            "source_cluster_id": report.get("source_cluster_id"),
            "backup_id": (report.get("backup") or {}).get("backup_id"),
            "drill_cluster_id": (report.get("drill_cluster") or {}).get("cluster_id"),
            "key_verification": report.get("key_verification"),
            "findings": report.get("findings", []),
            "teardown": report.get("teardown"),
            "report_key": (report.get("report") or {}).get("markdown_key"),
        },
        "rto_seconds": measured.get("recovery_time_seconds"),
        "rto_met": measured.get("rto_met"),
        "vault_before": before,
        "vault_after": after,
        "vault_untouched": after == before,
        "leaked_resources": left,
        **sandbox.permissions_report(),
    }


def vault_inventory(world: Any, region: str, deployment: str) -> dict[str, Any]:
    """The vault's clusters and backups as the emulator holds them: id, state, tags and
    (for clusters) HSMs. Equal before and after a drill: the drill changed none."""

    def tags(resource: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted((t["Key"], t["Value"]) for t in resource.get("TagList", []))

    def is_vault(resource: dict[str, Any]) -> bool:
        return (VAULT_KEY, deployment) in tags(resource)

    return {
        "clusters": {
            c["ClusterId"]: {
                "state": c["State"],
                "tags": tags(c),
                "hsms": sorted((h["HsmId"], h["State"]) for h in c["Hsms"]),
            }
            for c in world.clusters(region)
            if is_vault(c)
        },
        "backups": {
            b["BackupId"]: {
                "state": b["BackupState"],
                "tags": tags(b),
                "never_expires": b.get("NeverExpires", False),
            }
            for b in world.backups(region)
            if is_vault(b)
        },
    }


def leftovers(
    world: Any, region: str, clusters_before: set[str], backups_before: set[str]
) -> dict[str, list[str]]:
    """What the drill made and did not remove: clusters not DELETED, their HSMs, and
    backups (the drill cluster's, which its teardown deletes) not deleted."""
    new_clusters = [
        c
        for c in world.clusters(region)
        if c["ClusterId"] not in clusters_before and c["State"] != "DELETED"
    ]
    return {
        "clusters": sorted(c["ClusterId"] for c in new_clusters),
        "hsms": sorted(
            h["HsmId"] for c in new_clusters for h in c["Hsms"] if h["State"] != "DELETED"
        ),
        "backups": sorted(
            b["BackupId"]
            for b in world.backups(region)
            if b["BackupId"] not in backups_before and b["BackupState"] not in GONE
        ),
    }


def drill_backups(world: Any, region: str, execution_arn: str) -> list[dict[str, Any]]:
    """The backups the drill's teardown tagged as its own (this execution's)."""
    return [
        b
        for b in world.backups(region)
        if {"Key": DRILL_KEY, "Value": execution_arn} in b.get("TagList", [])
    ]
