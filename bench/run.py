"""`make bench`: prints one JSON document of measurements.

- cold_import: the verification handler's import cost, in fresh interpreters, next
  to a bare `import boto3` measured in the same run. The handler imports boto3
  lazily, so the ratio counted against the aim adds boto3 to the handler's import:
  it is what a cold start pays before the first API call.
- verification_at_scale: the real verification code against the emulator with
  20 clusters x 1,000 backups each; seconds, and API calls against the minimum the
  pages require.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
CLUSTERS = 20
BACKUPS_PER_CLUSTER = 1000

_TIMED_IMPORT = """
import time
t = time.perf_counter()
{statement}
print(time.perf_counter() - t)
"""


def _import_seconds(statement: str) -> float:
    # The Lambda runtime's environment, as the function sees it at init: the X-Ray
    # SDK (through Powertools' Tracer) behaves differently inside Lambda, where the
    # service samples and no sampling client is built.
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(REPO_ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "verify-backups",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "verify-backups",
        "POWERTOOLS_METRICS_NAMESPACE": "CloudHsmDr",
    }
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
            [sys.executable, "-c", _TIMED_IMPORT.format(statement=statement)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def cold_import() -> dict[str, Any]:
    _import_seconds("import boto3, lambdas.handlers.verify_backups")  # warm the .pyc files
    boto3_s = _import_seconds("import boto3")
    handler_s = _import_seconds("import lambdas.handlers.verify_backups")
    both_s = _import_seconds("import lambdas.handlers.verify_backups; import boto3")
    return {
        "runs_per_median": RUNS,
        "boto3_import_s": round(boto3_s, 4),
        "handler_import_s": round(handler_s, 4),
        "handler_plus_boto3_import_s": round(both_s, 4),
        "ratio": round(both_s / boto3_s, 3),
        "aim": "ratio < 2",
    }


def verification_at_scale() -> dict[str, Any]:
    from lambdas.core.gateway import CloudHsmGateway
    from lambdas.core.protected import ProtectedCluster
    from lambdas.core.settings import VerificationSettings
    from lambdas.core.verification_run import run_verification
    from sandbox.emulator import PROFILES, CloudHsmWorld, Quotas
    from sandbox.network import create_network
    from sandbox.session import emulated_account

    region = "us-east-1"
    # Backups every 8 hours: 1,000 of them span 333 days, inside a 379-day retention.
    ages = [timedelta(hours=2 + 8 * i) for i in range(BACKUPS_PER_CLUSTER)]
    world = CloudHsmWorld(
        profile=PROFILES["test"],
        quotas=Quotas(clusters_per_region=CLUSTERS, hsms_per_region=2 * CLUSTERS),
    )
    with emulated_account(world):
        network = create_network(region, [f"{region}a", f"{region}b"])
        specs = []
        for _ in range(CLUSTERS):
            cluster_id = world.seed_cluster(
                region,
                network.subnet_ids([f"{region}a", f"{region}b"]),
                backup_ages=ages,
                retention_days=379,
            )
            specs.append(
                ProtectedCluster(
                    id=cluster_id, region=region, hsms_per_az={f"{region}a": 1, f"{region}b": 1}
                )
            )
        settings = VerificationSettings(
            deployment_name="bench",
            clusters=tuple(specs),
            rpo_hours=24,
            backup_in_progress_max_minutes=60,
        )
        world.api_calls.clear()
        started = time.perf_counter()
        report = run_verification(settings, CloudHsmGateway.for_region)
        seconds = time.perf_counter() - started
        calls = dict(world.api_calls)
    # One DescribeClusters page (20 <= 25), one DescribeBackups page for every
    # in-progress backup of those clusters, and one single-item page per cluster
    # for its newest READY backup.
    minimum = 1 + 1 + CLUSTERS
    return {
        "clusters": CLUSTERS,
        "backups_per_cluster": BACKUPS_PER_CLUSTER,
        "seconds": round(seconds, 3),
        "api_calls": sum(calls.values()),
        "api_calls_by_operation": calls,
        "pages_strictly_needed": minimum,
        "report_status": report.status,
        "findings": len(report.findings),
    }


def on_demand_backup_hsm_time() -> dict[str, Any]:
    """HSM time the on-demand backup spends, against the floor CloudHSM imposes.

    Run in the sandbox with the `demo` profile (HSM create 3 s, backup 1 s, HSM
    delete 2 s) and a 1 s poll. The temporary HSM is counted from the CreateHsm call
    returning to the workflow seeing it gone: an upper bound, as the workflow sees it.
    The floor is HSM create + backup + HSM delete, one after the other.
    """
    from datetime import datetime

    from sandbox.backup_scenarios import create_backup
    from sandbox.session import Sandbox

    with Sandbox(profile="demo") as sandbox:
        sandbox.seed_protected_clusters()
        profile = sandbox.profile
        report = create_backup(sandbox, poll_seconds=1)
    steps = report["timeline"]
    created = next(s["end"] for s in steps if s["state"] == "CreateHsm")
    gone = next(s["start"] for s in steps if s["state"] == "DescribeBackup")
    spent = (datetime.fromisoformat(gone) - datetime.fromisoformat(created)).total_seconds()
    floor = (profile.hsm_create + profile.backup_create + profile.hsm_delete).total_seconds()
    return {
        "status": report["status"],
        "profile": profile.name,
        "poll_seconds": 1,
        "temporary_hsm_seconds": round(spent, 3),
        "floor_seconds": floor,
        "ratio": round(spent / floor, 3),
        "leaked_resources": report["leaked_resources"],
    }


def main() -> None:
    result = {
        "cold_import": cold_import(),
        "verification_at_scale": verification_at_scale(),
        "on_demand_backup_hsm_time": on_demand_backup_hsm_time(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
