"""Key-level verification: `hsmdr keys manifest` (AWS: invokes the deployed capture
function) and `hsmdr sandbox verify-keys` (the embedded sandbox with SoftHSM2).

`register(groups)` adds the `keys` group, `register_sandbox(commands, fault_help)`
the sandbox command; hsmdr/cli.py and hsmdr/commands/sandbox.py call them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome, UsageError

SANDBOX_PROFILE: str | None = None  # None: the --speed given (demo: HSMs take seconds)
KEY_FAULTS_HELP = "; key faults (on the restored cluster): key-missing, key-corrupt, bad-pin"


def register(groups: Any) -> None:
    keys = groups.add_parser("keys", help="key manifests and key-level checks (PKCS#11)")
    commands = keys.add_subparsers(dest="command", required=True, metavar="COMMAND")
    manifest = commands.add_parser(
        "manifest",
        help="capture a cluster's key manifest now (invokes the deployed capture function)",
        description=(
            "Invokes the deployment's capture-key-manifest function for one cluster: it "
            "logs in as the verification crypto user, lists every key with its check "
            "value and the cluster's users, and stores the manifest in the manifest "
            "bucket. Needs the key_verification config section, the deployed stack and "
            "lambda:InvokeFunction."
        ),
    )
    add_config_source(manifest)
    manifest.add_argument("--cluster", required=True, metavar="ID", help="protected cluster id")
    add_json_flag(manifest)
    manifest.set_defaults(run=run_manifest)


def register_sandbox(commands: Any, fault_help: str) -> None:
    verify = commands.add_parser(
        "verify-keys",
        help="restore a backup of a SoftHSM2-backed cluster and check it key by key",
        description=(
            "Seeds the protected cluster with real keys in a SoftHSM2 token, captures its "
            "key manifest, forces a backup, restores it into a new cluster "
            "(CreateCluster + CreateHsm) and runs the key verifier against it."
        ),
    )
    verify.add_argument(
        "--fault", action="append", default=[], metavar="NAME", help=fault_help + KEY_FAULTS_HELP
    )
    add_json_flag(verify)
    verify.set_defaults(run=run_sandbox_verify_keys)


def run_manifest(args: argparse.Namespace) -> Outcome:
    import boto3

    from hsmdr.deployment_config import load, source
    from stacks.names import CAPTURE_KEY_MANIFEST, key_function_name

    config = load(args)
    if config.key_verification is None:
        raise UsageError(
            f"{source(args)}: key_verification is not configured, so no capture function is "
            "deployed: add the key_verification section (see config/example.yaml) and deploy"
        )
    clusters = [c.id for c in config.key_clusters()]
    if args.cluster not in clusters:
        raise UsageError(f"--cluster: {args.cluster} is not key-verified by {source(args)}")
    function = key_function_name(config.deployment_name, CAPTURE_KEY_MANIFEST)
    response = boto3.client("lambda", region_name=config.region).invoke(
        FunctionName=function, Payload=json.dumps({"cluster_ids": [args.cluster]}).encode()
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        document = {
            "status": "FAILED",
            "function": function,
            "error": (payload or {}).get("errorType", response["FunctionError"]),
            "message": (payload or {}).get("errorMessage", ""),
        }
        return Outcome(document, f"Capture FAILED: {document['error']}: {document['message']}")
    document = {"function": function, **payload}
    return Outcome(document, manifest_text(document))


def run_sandbox_verify_keys(args: argparse.Namespace) -> Outcome:
    from sandbox.key_scenarios import verify_keys
    from sandbox.session import FaultError
    from sandbox.softhsm import SoftHsmMissing, softhsm_available

    if not softhsm_available():
        raise UsageError(str(SoftHsmMissing()))
    try:
        document = verify_keys(args.fault, profile=SANDBOX_PROFILE)
    except FaultError as error:
        raise UsageError(str(error)) from error
    return Outcome(document, key_check_text(document))


def manifest_text(document: dict[str, Any]) -> str:
    from presentation.render import table

    rows = [
        [m["cluster_id"], m["keys"], m["users"], m["captured_at"], m["object_key"]]
        for m in document.get("manifests", [])
    ]
    lines = [f"Key manifest capture: {document['status']}", ""]
    lines.append(table(["CLUSTER", "KEYS", "USERS", "CAPTURED", "OBJECT"], rows))
    lines.append(f"\nBucket: s3://{document.get('bucket')}")
    return "\n".join(lines)


def key_check_text(document: dict[str, Any]) -> str:
    from presentation.render import table

    if "findings" not in document:
        return f"Key check FAILED at {document.get('step')}: {document.get('errors')}"
    canary = document.get("canary")
    lines = [
        f"Key check of restored cluster {document['cluster_id']}: {document['status']}",
        "",
        f"Source cluster   {document['source_cluster_id']} (backup {document['backup_id']})",
        f"Manifest         {document['manifest_key']}",
        f"Keys             {document['keys_found']} found, {document['keys_expected']} expected",
        f"Users expected   {document['users_expected']}",
        "Canary           "
        + (
            f"{canary['label']} {canary['operation']}: {'ok' if canary['ok'] else 'FAILED'}"
            if canary
            else "not run"
        ),
        f"Faults           {', '.join(document['faults']) or 'none'}",
        "",
    ]
    findings = document["findings"]
    if not findings:
        lines.append("No findings: every key and user came back intact.")
    else:
        rows = [[f["code"], f["severity"], f["label"] or "-", f["message"]] for f in findings]
        lines.append(table(["FINDING", "SEVERITY", "KEY/USER", "WHAT"], rows))
        lines += ["", "Next steps:"]
        lines += [f"- {f['code']}: {f['next_step']}" for f in findings]
    return "\n".join(lines)
