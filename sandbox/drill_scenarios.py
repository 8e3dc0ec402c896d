"""The DR drill in the sandbox: the synthesized `{deployment}-dr-drill` state machine
run against SoftHSM2-backed clusters, so the key verifier checks the restored drill
token for real, then a look at what is left (nothing may be).

The sandbox deployment config plus `key_verification` (placeholder VPC, subnet and
security group ids: the sandbox has no such network) and a few drill settings suited to
emulated durations is written to a temporary file and synthesized; `Sandbox(key_store=
True)` points the deployed verify-keys function at the SoftHSM2 tokens.

    with drill_sandbox() as sandbox:
        report = run_drill(sandbox)
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml

from lambdas.shared.protected import POSTURE_COLD, STANDBY_POSTURES
from presentation.timeline import timeline
from sandbox.scenarios import alerts, keep_standby, posture_config
from sandbox.session import SANDBOX_CONFIG, SEEDED_BACKUP_AGES, Sandbox
from stacks.config import load_config
from stacks.names import DR_DRILL, dr_drill_state_machine_name

# Placeholders: the config needs them, the sandbox network has its own ids.
KEY_VERIFICATION = {
    "vpc_id": "vpc-0d0d0d0d0d0d0d0d0",
    "subnet_ids": ["subnet-0d0d0d0d0d0d0d0d0"],
    "hsm_security_group_id": "sg-0d0d0d0d0d0d0d0d0",
    "crypto_user_secret_name": "hsmdr-sandbox/key-verifier",
}
DRILL_SETTINGS = {
    "poll_seconds": 1,  # emulated clusters and HSMs take seconds
    "backup_wait_minutes": 0.05,  # the drill cluster's own backup: READY in about a second
    "verifier_cidrs": ["10.0.0.0/16"],  # the verifier's VPC, "peered" with the DR region's
    "delete_drill_backups": True,  # the whole teardown path (opt-in: off by default)
}
MANIFEST_LEAD = timedelta(hours=1)  # the seeded manifest predates the oldest backup by this
SANDBOX_TRIGGER = "sandbox"


def drill_config_data(base: Path = SANDBOX_CONFIG) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["key_verification"] = dict(KEY_VERIFICATION)
    data["drills"] = {**(data.get("drills") or {}), **DRILL_SETTINGS}
    return data


def drill_config(base: Path = SANDBOX_CONFIG, posture: str = POSTURE_COLD) -> Path:
    """The drill sandbox's deployment config, written next to the other temporary files;
    with a posture other than cold, the first protected cluster keeps it in the first DR
    region (where the drill restores a copy)."""
    if posture != POSTURE_COLD:
        region = load_config(base).dr_regions[0]
        base = posture_config(region, posture, base)
    path = Path(tempfile.gettempdir()) / f"hsmdr-sandbox-drill-{posture}.yaml"
    path.write_text(yaml.safe_dump(drill_config_data(base), sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def drill_sandbox(
    *,
    profile: str | None = None,
    templates: dict[str, dict[str, Any]] | None = None,
    posture: str = POSTURE_COLD,
) -> Iterator[Sandbox]:
    """A sandbox with key verification deployed, SoftHSM2 tokens, seeded clusters (and
    their DR copies) and a key manifest older than every seeded backup; with a standby
    posture, the DR stack's refresher has made the standby (and, warm, its HSM)."""
    config = drill_config(posture=posture)
    with Sandbox(config, profile=profile, templates=templates, key_store=True) as sandbox:
        prepare(sandbox)
        if posture in STANDBY_POSTURES:
            keep_standby(sandbox, sandbox.config.dr_regions[0], posture)
        yield sandbox


def prepare(sandbox: Sandbox) -> None:
    from sandbox.key_store_setup import seed_manifest

    sandbox.seed_protected_clusters()
    oldest = max(SEEDED_BACKUP_AGES)
    captured = datetime.now(UTC) - oldest - MANIFEST_LEAD
    for spec in sandbox.config.protected_clusters:
        seed_manifest(sandbox, spec.id, captured)


def drill_region(sandbox: Sandbox, execution_input: dict[str, Any]) -> str:
    """Where the drill cluster will go: the backup's region."""
    config = sandbox.config
    spec = next(
        (c for c in config.protected_clusters if c.id == execution_input.get("cluster")),
        config.protected_clusters[0],
    )
    backup_id = execution_input.get("backup_id")
    if isinstance(backup_id, str):
        for region in (spec.region, *config.dr_regions):
            if any(b["BackupId"] == backup_id for b in sandbox.world.backups(region)):
                return region
    source = execution_input.get("source") or config.drills.source
    if source == "dr-copy" and config.dr_regions:
        return config.dr_regions[0]
    return spec.region


def subnets(sandbox: Sandbox, region: str) -> list[str]:
    network = sandbox.networks[region]
    return [network.subnets[zone] for zone in sorted(network.subnets)]


def run_drill(
    sandbox: Sandbox,
    execution_input: dict[str, Any] | None = None,
    *,
    timeout: float = 180,
    stop_when: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Run the drill state machine and report it with what exists afterwards. The
    sandbox stops the drill, and the teardown-only run the stack then starts, after
    `timeout` seconds each, or as soon as `stop_when()` holds while it runs."""
    execution_input = dict(execution_input or {})
    region = drill_region(sandbox, execution_input)
    execution_input.setdefault("subnet_ids", subnets(sandbox, region))
    execution_input.setdefault("poll_seconds", 1)
    execution_input.setdefault("trigger", SANDBOX_TRIGGER)
    regions = sorted({sandbox.config.region, *sandbox.config.dr_regions})
    before = {r: {c["ClusterId"] for c in sandbox.world.clusters(r)} for r in regions}
    hsms_before = {h for r in regions for c in sandbox.world.clusters(r) for h in _hsm_ids(c)}
    primary_before = primaries(sandbox)
    seen = len(sandbox.messages())
    started = time.monotonic()
    try:
        execution = sandbox.deployment.run_state_machine(
            dr_drill_state_machine_name(sandbox.config.deployment_name),
            execution_input,
            timeout=timeout,
            stop_when=stop_when,
        )
    except TimeoutError as stopped:
        # The sandbox aborted it (a teardown that keeps failing retries until its
        # deadline, longer than a sandbox run) and told the stack's stopped rule:
        # report the execution as it ended, with what is left and the page it sent.
        arn = str(stopped).split(" ", 1)[0]
        execution = sandbox.deployment.await_execution(arn, timeout=30)
    teardown_run_ = teardown_run(sandbox, execution.execution_arn, timeout, stop_when=stop_when)
    wall = round(time.monotonic() - started, 3)
    report = drill_report(sandbox, execution.execution_arn)
    measured = (report or {}).get("measurements") or {}
    leftovers = leaked(sandbox, before)
    # An HSM the drill added to a standby it borrowed (a cluster that existed before).
    leftovers["hsms"] = sorted(
        {*leftovers["hsms"]}
        | {
            h
            for r in regions
            for c in sandbox.world.clusters(r)
            if c["ClusterId"] in before[r]
            for h in _hsm_ids(c)
            if h not in hsms_before
        }
    )
    return {
        "status": "SUCCEEDED" if execution.status == "SUCCEEDED" else "FAILED",
        "rto_seconds": measured.get("recovery_time_seconds"),
        "rpo_seconds": measured.get("backup_age_seconds"),
        "posture": ((report or {}).get("posture") or {}).get("used", POSTURE_COLD),
        "posture_reason": ((report or {}).get("posture") or {}).get("reason", ""),
        "execution_status": execution.status,
        "execution_arn": execution.execution_arn,
        "input": execution_input,
        "error": execution.error,
        "cause": execution.cause,
        "timeline": timeline(execution.events),
        "findings": (report or {}).get("findings", []),
        "measurements": (report or {}).get("measurements"),
        "teardown": (report or {}).get("teardown"),
        "drill_cluster": (report or {}).get("drill_cluster"),
        "backup": (report or {}).get("backup"),
        "report_key": ((report or {}).get("report") or {}).get("json_key"),
        "report_markdown_key": ((report or {}).get("report") or {}).get("markdown_key"),
        "report": report,
        "teardown_run": teardown_run_,
        "leaked_resources": leftovers,
        **sandbox.permissions_report(),
        "primary_clusters_unchanged": primaries(sandbox) == primary_before,
        "metrics": metrics(sandbox, execution.execution_arn),
        "alerts": alerts(sandbox, seen),
        "wall_seconds": wall,
    }


def _hsm_ids(cluster: dict[str, Any]) -> set[str]:
    return {h["HsmId"] for h in cluster["Hsms"] if h["State"] != "DELETED"}


def teardown_run(
    sandbox: Sandbox,
    stopped: str,
    timeout: float,
    *,
    stop_when: Callable[[], bool] | None = None,
) -> dict[str, Any] | None:
    """The teardown-only run the stack's stopped rule started for a stopped drill, run to
    its end (aborted, as the drill was, if it does not end in time): None if none was
    started."""
    from lambdas.drill.stop import teardown_run_name
    from lambdas.shared.executions import execution_arn_of, state_machine_of

    arn = execution_arn_of(state_machine_of(stopped), teardown_run_name(stopped))
    sfn = boto3.client("stepfunctions", region_name=sandbox.config.region)
    try:
        sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    try:
        execution = sandbox.deployment.await_execution(arn, timeout=timeout, stop_when=stop_when)
    except TimeoutError:
        execution = sandbox.deployment.await_execution(arn, timeout=30)
    return {
        "execution_arn": arn,
        "status": execution.status,
        "error": execution.error,
        "timeline": timeline(execution.events),
    }


def primaries(sandbox: Sandbox) -> dict[str, Any]:
    """The protected clusters as they are: state, tags and HSMs."""
    found: dict[str, Any] = {}
    for spec in sandbox.config.protected_clusters:
        cluster = sandbox.world.cluster(spec.id)
        found[spec.id] = {
            "state": cluster["State"],
            "tags": sorted((t["Key"], t["Value"]) for t in cluster.get("TagList", [])),
            "hsms": sorted((h["HsmId"], h["State"], h["EniIp"]) for h in cluster["Hsms"]),
        }
    return found


def leaked(sandbox: Sandbox, before: dict[str, set[str]]) -> dict[str, list[str]]:
    """Clusters the drill created that still exist (not DELETED), their HSMs, and
    verifier egress rules left open (they would keep a drill cluster's group alive)."""
    clusters, hsms = [], []
    for region, known in before.items():
        for cluster in sandbox.world.clusters(region):
            if cluster["ClusterId"] in known or cluster["State"] == "DELETED":
                continue
            clusters.append(cluster["ClusterId"])
            hsms += [h["HsmId"] for h in cluster["Hsms"] if h["State"] != "DELETED"]
    return {"clusters": sorted(clusters), "hsms": sorted(hsms), "rules": _open_rules(sandbox)}


def _open_rules(sandbox: Sandbox) -> list[str]:
    if sandbox.config.key_verification is None:
        return []
    group = sandbox.deployment.physical_id("KeyVerificationVerifierGroup")
    ec2 = boto3.client("ec2", region_name=sandbox.config.region)
    [described] = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]
    return [
        json.dumps(rule, sort_keys=True, default=str)
        for rule in described.get("IpPermissionsEgress", [])
        if rule.get("FromPort") == 2223
    ]


def drill_report(sandbox: Sandbox, execution_arn: str) -> dict[str, Any] | None:
    """The JSON report the drill wrote to S3 (None if it wrote none)."""
    bucket = sandbox.deployment.physical_id("DrDrillReports")
    s3 = boto3.client("s3", region_name=sandbox.config.region)
    name = execution_arn.rsplit(":", 1)[-1]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="reports/drills/").get("Contents", [])
    key = next((o["Key"] for o in listed if o["Key"].endswith(f"-{name}.json")), None)
    if key is None:
        return None
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return document


def report_markdown(sandbox: Sandbox, key: str) -> str:
    bucket = sandbox.deployment.physical_id("DrDrillReports")
    s3 = boto3.client("s3", region_name=sandbox.config.region)
    return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def metrics(sandbox: Sandbox, execution_arn: str) -> list[dict[str, Any]]:
    """The drill's EMF documents for this execution, from the function's logs."""
    found = []
    for line in sandbox.deployment.logs(DR_DRILL):
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(document, dict)
            and "_aws" in document
            and document.get("execution") == execution_arn
        ):
            found.append(document)
    return found


def drill(
    faults: Sequence[str] = (),
    *,
    profile: str | None = None,
    execution_input: dict[str, Any] | None = None,
    posture: str = POSTURE_COLD,
) -> dict[str, Any]:
    """`hsmdr sandbox drill`: seed, break what the faults say, run the drill. With a
    standby posture (pilot-light, warm-standby) in the DR region, the drill exercises
    it: it borrows the standby the refresher made instead of creating a cluster."""
    with drill_sandbox(profile=profile, posture=posture) as sandbox:
        execution_input = dict(execution_input or {})
        sandbox.apply_faults(faults, region=drill_region(sandbox, execution_input))
        report = run_drill(sandbox, execution_input)
        report.update(sandbox.faults_fired())
        if report["report_markdown_key"]:
            report["report_markdown"] = report_markdown(sandbox, report["report_markdown_key"])
        return report
