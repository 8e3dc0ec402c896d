"""`hsmdr sandbox vault`: production compromised, the recovery account restores from its
vault (sandbox/vault_scenarios.py, docs/runbooks/vault.md)."""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_json_flag
from hsmdr.outcome import Outcome


def register_sandbox(commands: Any) -> None:
    vault = commands.add_parser(
        "vault",
        help="share production's backup, refresh the recovery account's vault, delete every "
        "cluster, backup and copy in production, then restore from the vault",
    )
    vault.add_argument(
        "--keys",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="back the clusters with SoftHSM2 tokens, deploy the vault's own key verifier "
        "(recovery_account.key_verification) and compare the restored cluster's keys with "
        "the vault's manifest and with production's (default: on; --no-keys skips it)",
    )
    add_json_flag(vault)
    vault.set_defaults(run=run_sandbox_vault)


def run_sandbox_vault(args: argparse.Namespace) -> Outcome:
    from sandbox.vault_scenarios import recover_from_vault

    report = recover_from_vault(keys=args.keys)
    return Outcome(report, render(report))


def render(document: dict[str, Any]) -> str:
    from presentation.render import duration

    refresh, restore = document["refresh"], document["restore"]
    compromise = document["compromise"]
    deleted = compromise["deleted"]
    lines = [
        f"Recovery from the vault: {document['status']}",
        "",
        f"Vault refresh in account {document['recovery_account']}: {refresh['status']}"
        + (f" ({refresh['error']}: {refresh['cause']})" if refresh["error"] else ""),
        f"  HSM time {_seconds(document['hsm_seconds'])} (floor: HSM create + backup + "
        f"HSM delete {_seconds(document['hsm_floor_seconds'])}); vault age right after "
        f"{_seconds(document['vault_age_seconds'])}, its source backup's "
        f"{_seconds(document['source_backup_age_seconds'])}",
        f"Production compromised: {len(deleted['clusters'])} clusters, {len(deleted['hsms'])} "
        f"HSMs, {len(deleted['backups'])} backups and copies deleted; "
        f"{len(compromise['production_backups_left'])} left",
        f"  Vault backups production tried to delete: "
        f"{len(compromise['vault_deletions_refused'])} refused, "
        f"{len(compromise['vault_backups_deleted'])} deleted",
        f"Vault backups that survived: {', '.join(document['vault_backups']) or 'none'}",
        f"Restore from the vault: {restore['status']}"
        + (f" ({restore['error']}: {restore['cause']})" if restore["error"] else ""),
    ]
    if document.get("cluster_id"):
        lines.append(
            f"  cluster {document['cluster_id']} from vault backup {restore['backup_id']}; "
            f"RPO {duration(document['rpo_seconds'])}, RTO {duration(document['rto_seconds'])}"
        )
    keys = document.get("keys_verified")
    if keys:
        captured = refresh.get("keys") or {}
        lines += [
            f"Vault manifest: {captured.get('status', 'none')} "
            f"({captured.get('manifest_key') or '-'}; {captured.get('summary') or '-'})",
            f"Restore's key check: {restore.get('key_verification') or '-'}",
            f"Keys: {keys['status']} ({keys['keys_found']} of {keys['keys_expected']} "
            f"production keys on the restored token, checked by the sandbox)",
        ]
    else:
        lines.append(f"Keys: not checked ({restore.get('key_verification') or '--no-keys'})")
    leaked = document["leaked_resources"]
    lines.append(
        "Leaked: nothing"
        if not any(leaked.values())
        else f"Leaked: clusters {leaked['clusters']}, HSMs {leaked['hsms']}"
    )
    return "\n".join(lines)


def _seconds(value: Any) -> str:
    from presentation.render import duration

    return "unknown" if value is None else str(duration(value))
