"""`hsmdr sandbox vault`: production compromised, the recovery account restores from its
vault (sandbox/vault_scenarios.py, docs/runbooks/vault.md). `hsmdr sandbox vault-drill`:
the recovery account's routine DR drill from the vault, production left alone
(sandbox/vault_drill_scenarios.py)."""

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
    # Its own command: a drill is routine, production stays intact (`vault` deletes it).
    drill = commands.add_parser(
        "vault-drill",
        help="share production's backup, refresh the recovery account's vault, then run the "
        "vault stack's DR drill: restore the newest vault backup into a drill cluster, "
        "measure, tear down; the vault is counted before and after",
    )
    drill.add_argument(
        "--keys",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="back the clusters with SoftHSM2 tokens and deploy the vault's own key verifier "
        "(recovery_account.key_verification): the drill checks the drill cluster's keys "
        "against the vault's manifest (default: on; --no-keys drills without a verifier)",
    )
    add_json_flag(drill)
    drill.set_defaults(run=run_sandbox_vault_drill)


def run_sandbox_vault(args: argparse.Namespace) -> Outcome:
    from sandbox.vault_scenarios import recover_from_vault

    report = recover_from_vault(keys=args.keys)
    return Outcome(report, render(report))


def run_sandbox_vault_drill(args: argparse.Namespace) -> Outcome:
    from sandbox.vault_drill_scenarios import drill_the_vault

    report = drill_the_vault(keys=args.keys)
    return Outcome(report, render_drill(report))


def render_drill(document: dict[str, Any]) -> str:
    drill, refresh = document["drill"], document["refresh"]
    before, after = document["vault_before"], document["vault_after"]
    keys = drill.get("key_verification") or {}
    lines = [
        f"DR drill from the vault: {document['status']}",
        "",
        f"Vault refresh in account {document['recovery_account']}: {refresh['status']}"
        + (f" ({refresh['error']}: {refresh['cause']})" if refresh["error"] else ""),
        f"Drill: {drill['status']}"
        + (f" ({drill['error']}: {drill['cause']})" if drill["error"] else ""),
        f"  vault backup {drill['backup_id']} of {drill['source_cluster_id']} into drill "
        f"cluster {drill['drill_cluster_id']}; RTO {_seconds(document['rto_seconds'])}",
        f"  teardown: {(drill.get('teardown') or {}).get('status', 'none')}; keys: "
        f"{keys.get('status', 'unknown')}",
        f"Vault before / after: {len(before['clusters'])} / {len(after['clusters'])} clusters, "
        f"{len(before['backups'])} / {len(after['backups'])} backups; "
        + ("untouched" if document["vault_untouched"] else "CHANGED"),
    ]
    for finding in drill.get("findings") or []:
        lines.append(f"  {finding['severity']}: {finding['code']}: {finding['next_step']}")
    leaked = document["leaked_resources"]
    lines.append(
        "Leaked: nothing"
        if not any(leaked.values())
        else f"Leaked: clusters {leaked['clusters']}, HSMs {leaked['hsms']}, "
        f"backups {leaked['backups']}"
    )
    if drill.get("report_key"):
        lines.append(f"Report: {drill['report_key']} in the vault stack's reports bucket")
    return "\n".join(lines)


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
