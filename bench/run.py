"""`make bench`: prints one JSON document of measurements.

- cold_import: the verification handler's import cost, in fresh interpreters, next
  to a bare `import boto3` measured in the same run. The handler imports boto3
  lazily, so the ratio counted against the aim adds boto3 to the handler's import:
  it is what a cold start pays before the first API call.
- verification_at_scale: the real verification code against the emulator with
  20 clusters x 1,000 backups each; seconds, and API calls against the minimum the
  pages require.
- pilot_light_restore(_realistic): a restore that adopts a pilot-light standby, its
  RTO against the HSM-create floor and the cold floor (cluster from backup + first
  HSM), at demo speed and in the realistic profile on the 120x clock.
- posture_rto_realistic: in one run, a restore per DR posture (cold, pilot light, warm
  standby) in the realistic profile on the 120x clock: each RTO against the cold
  floor, each posture's aim, its monthly cost from `drills.hsm_hour_usd` and the
  standby refresh's API calls.
- vault_refresh_realistic: `hsmdr sandbox vault` in the realistic profile on the 120x
  clock: the vault refresh's HSM time (its own record, in emulated time) against its
  floor (the HSM create, backup and HSM delete durations it drew), aim under 1.10; the
  vault's age right after the refresh against the source backup's age; the restore from
  the vault's RTO and RPO.

`python -m bench.run NAME ...` runs only the named entries.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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
    _import_seconds("import boto3, lambdas.verification.handler")  # warm the .pyc files
    boto3_s = _import_seconds("import boto3")
    handler_s = _import_seconds("import lambdas.verification.handler")
    both_s = _import_seconds("import lambdas.verification.handler; import boto3")
    return {
        "runs_per_median": RUNS,
        "boto3_import_s": round(boto3_s, 4),
        "handler_import_s": round(handler_s, 4),
        "handler_plus_boto3_import_s": round(both_s, 4),
        "ratio": round(both_s / boto3_s, 3),
        "aim": "ratio < 2",
    }


def verification_at_scale() -> dict[str, Any]:
    from lambdas.shared.gateway import CloudHsmGateway
    from lambdas.shared.protected import ProtectedCluster
    from lambdas.shared.settings import VerificationSettings
    from lambdas.verification.run import run_verification
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


def restore_times() -> dict[str, Any]:
    """The restore's RTO and time to full HA against the floor CloudHSM imposes.

    Sandbox, `demo` profile (cluster create 2 s, HSM create 3 s), 1 s poll. The floors:
    cluster create + one HSM create (service restored), cluster create + N sequential
    HSM creates (full HA: CloudHSM adds HSMs one at a time). Each Wait can overshoot by
    up to one poll interval; the aim is a ratio under 1.10 plus one poll interval.
    """
    from sandbox.emulator import PROFILES
    from sandbox.restore_scenarios import restore_after_disaster

    poll = 1  # the scenario's poll_seconds
    profile = PROFILES["demo"]
    report = restore_after_disaster(profile=profile.name)
    hsms = len(report["hsms"])
    floors = {
        "rto": (profile.cluster_create + profile.hsm_create).total_seconds(),
        "full_ha": (profile.cluster_create + hsms * profile.hsm_create).total_seconds(),
    }
    measured = {"rto": report["rto_seconds"], "full_ha": report["time_to_full_ha_seconds"]}
    return {
        "status": report["status"],
        "profile": profile.name,
        "poll_seconds": poll,
        "hsms": hsms,
        **{
            name: {
                "seconds": measured[name],
                "floor_seconds": floors[name],
                "ratio": round(measured[name] / floors[name], 3),
                "within_aim": measured[name] <= 1.10 * floors[name] + poll,
            }
            for name in floors
        },
        "aim": "seconds <= 1.10 x floor + one poll interval",
        "leaked_resources": report["leaked_resources"],
    }


def pilot_light_restore(speed_name: str = "demo") -> dict[str, Any]:
    """The restore's RTO with a pilot-light standby, against the cold floor.

    Sandbox, 1 s poll, at `speed_name`: `demo` (cluster create 2 s, HSM create 3 s) or
    `realistic` (AWS's durations on a clock 120x faster; the seconds are given in
    emulated time too). The DR stack's standby refresher makes the standby (no HSM)
    before the disaster, and the restore in the DR region adopts it, so only HSMs are
    created. Floors: cold = cluster create + one HSM create; pilot light = one HSM
    create. Aim: at most the HSM-create floor x 1.10 + one poll interval. The standby
    refresh's API calls are counted too (DescribeClusters, DescribeBackups, CreateCluster).
    """
    from sandbox.emulator import SPEEDS
    from sandbox.emulator.profile import REALISTIC_SPEEDUP
    from sandbox.restore_scenarios import restore_after_disaster
    from sandbox.session import speed

    poll = 1
    profile = SPEEDS[speed_name]
    with speed(speed_name):
        report = restore_after_disaster(posture="pilot-light")
    scale = REALISTIC_SPEEDUP if speed_name == "realistic" else 1.0
    floor = profile.hsm_create.total_seconds()
    cold_floor = (profile.cluster_create + profile.hsm_create).total_seconds()
    rto = report["rto_seconds"]
    refresh = (report.get("standby") or {}).get("refresh") or {}

    def emulated(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * scale, 3)

    return {
        "status": report["status"],
        "posture": report["posture"],
        "posture_reason": report["posture_reason"],
        "speed": speed_name,
        "poll_seconds": poll,
        "rto_seconds": rto,
        "pilot_light_floor_seconds": floor,
        "cold_floor_seconds": cold_floor,
        "emulated_seconds": {
            "rto": emulated(rto),
            "pilot_light_floor": emulated(floor),
            "cold_floor": emulated(cold_floor),
        },
        "ratio_to_hsm_create_floor": round(rto / floor, 3) if rto else None,
        "ratio_to_cold_floor": round(rto / cold_floor, 3) if rto else None,
        "within_aim": rto is not None and rto <= 1.10 * floor + poll,
        "aim": "rto <= 1.10 x HSM-create floor + one poll interval",
        "standby_refresh_api_calls": refresh.get("api_calls"),
        "leaked_resources": report["leaked_resources"],
    }


WARM_STANDBY_AIM_SECONDS = 120  # "at most two minutes plus client re-pointing"
# The states before the service is back that wait on a CloudHSM transition (compressed
# time); a warm standby's restore must run none of them.
EMULATED_WAITS = ("CreateCluster", "WaitForCluster", "CreateFirstHsm", "WaitForFirstHsm")


def posture_rto(speed_name: str = "realistic") -> dict[str, Any]:
    """RTO per DR posture against the cold floor, in one run.

    One restore after the disaster per posture, each in its own sandbox, at
    `speed_name` (`realistic`: AWS's durations on a clock 120x faster; emulated
    seconds are the measured ones x 120), 1 s poll. Floors: cold = cluster create + one
    HSM create; pilot light = one HSM create. Aims: pilot light at most the HSM-create
    floor x 1.10 + one poll; warm standby at most two minutes plus client re-pointing
    (the restore publishes the client configuration; re-pointing the clients themselves
    is outside it). A warm standby's restore waits on no CloudHSM transition before the
    service is back (checked: no such state ran), so its seconds are not compressed and
    are compared as they are. Costs: `posture_cost` at the sandbox config's
    `drills.hsm_hour_usd`.
    """
    from lambdas.shared.standby import posture_cost
    from sandbox.emulator import SPEEDS
    from sandbox.emulator.profile import REALISTIC_SPEEDUP
    from sandbox.restore_scenarios import restore_after_disaster
    from sandbox.session import SANDBOX_CONFIG, speed
    from stacks.config import load_config

    poll = 1
    profile = SPEEDS[speed_name]
    scale = REALISTIC_SPEEDUP if speed_name == "realistic" else 1.0
    price = load_config(SANDBOX_CONFIG).drills.hsm_hour_usd
    postures: dict[str, Any] = {}
    for posture in ("cold", "pilot-light", "warm-standby"):
        with speed(speed_name):
            report = restore_after_disaster(posture=posture)
        rto = report["rto_seconds"]
        # The floors as drawn in this run (jitter included), in wall seconds.
        drawn = _first_drawn(report, scale)
        hsm_floor = drawn.get("hsm_create", profile.hsm_create.total_seconds())
        cold_floor = drawn.get("cluster_create", profile.cluster_create.total_seconds()) + (
            hsm_floor
        )
        names = [s["state"] for s in report["timeline"]]
        before = (
            names[: names.index("NotifyServiceRestored")]
            if "NotifyServiceRestored" in names
            else names
        )
        waits = [n for n in before if n in EMULATED_WAITS]
        standby = report.get("standby") or {}
        refreshes = [r for r in (standby.get("refresh"), standby.get("warm_refresh")) if r]
        if posture == "pilot-light":
            within = rto is not None and rto <= 1.10 * hsm_floor + poll
            aim = "rto <= 1.10 x HSM-create floor + one poll interval"
        elif posture == "warm-standby":
            within = rto is not None and not waits and rto <= WARM_STANDBY_AIM_SECONDS
            aim = "no CloudHSM wait before the service is back; rto <= 120 s + re-pointing"
        else:  # the reference the other postures are compared with
            within = None
            aim = "none: the cold restore is the reference (cluster create + first HSM)"
        postures[posture] = {
            "status": report["status"],
            "posture_used": report["posture"],
            "posture_reason": report["posture_reason"],
            "rto_seconds": rto,
            "rto_emulated_seconds": None if rto is None else round(rto * scale, 3),
            "ratio_to_cold_floor": round(rto / cold_floor, 3) if rto else None,
            "floors_drawn_seconds": {"pilot_light": hsm_floor, "cold": cold_floor},
            "emulated_waits_before_service": waits,
            "within_aim": within,
            "aim": aim,
            "monthly_cost": posture_cost(posture, price).to_dict(),
            "standby_refresh_api_calls": sum(r.get("api_calls") or 0 for r in refreshes),
            "leaked_resources": report["leaked_resources"],
        }
    nominal_hsm = profile.hsm_create.total_seconds()
    nominal_cold = (profile.cluster_create + profile.hsm_create).total_seconds()
    return {
        "speed": speed_name,
        "poll_seconds": poll,
        "hsm_hour_usd": price,
        "nominal_floors_seconds": {"cold": nominal_cold, "pilot_light": nominal_hsm},
        "nominal_floors_emulated_seconds": {
            "cold": nominal_cold * scale,
            "pilot_light": nominal_hsm * scale,
        },
        "postures": postures,
    }


def _first_drawn(report: dict[str, Any], scale: float) -> dict[str, float]:
    """The first cluster_create and hsm_create the restore drew, in wall seconds."""
    found: dict[str, float] = {}
    for drawn in report.get("emulated_durations") or []:
        found.setdefault(drawn["step"], round(drawn["seconds"] / scale, 3))
    return found


def drill_hsm_time(runs: int = 3) -> dict[str, Any]:
    """HSM time a DR drill spends, against the floor: one HSM created, the keys verified,
    the HSM deleted, one after the other (aim: ratio under 1.10).

    Run in the sandbox with the `demo` profile (HSM create 3 s, delete 2 s), a 1 s poll
    and key verification against SoftHSM2; `runs` drills one after another in one
    sandbox (each leaves nothing behind), the median counted. The drill's HSM is counted
    as the drill bills it (DrillHsmHours): from CreateHsm returning to the HSM seen gone,
    so a poll that lands just before the deletion completes adds up to one poll
    interval. The verification in the floor is the VerifyKeys state's own duration.
    """
    from sandbox.drill_scenarios import drill_sandbox, run_drill

    samples = []
    with drill_sandbox(profile="demo") as sandbox:
        profile = sandbox.profile
        for _ in range(runs):
            report = run_drill(sandbox, {"poll_seconds": 1})
            [verify] = [s for s in report["timeline"] if s["state"] == "VerifyKeys"]
            floor = (profile.hsm_create + profile.hsm_delete).total_seconds() + verify["seconds"]
            samples.append(
                {
                    "status": report["status"],
                    "drill_hsm_seconds": report["measurements"]["hsm_seconds"],
                    "verification_seconds": verify["seconds"],
                    "floor_seconds": round(floor, 3),
                    "ratio": round(report["measurements"]["hsm_seconds"] / floor, 3),
                    "leaked_resources": report["leaked_resources"],
                }
            )
    ratios = sorted(s["ratio"] for s in samples)
    return {
        "profile": profile.name,
        "poll_seconds": 1,
        "runs": samples,
        "ratio": statistics.median(ratios),
        "ratio_max": ratios[-1],
        "aim": "median ratio < 1.10",
    }


VAULT_HSM_AIM = 1.10  # the refresh's HSM time against its floor


def vault_refresh(speed_name: str = "realistic") -> dict[str, Any]:
    """The vault refresh's HSM time and the vault's freshness, from `hsmdr sandbox vault`
    (production shares, the vault refreshes, production is compromised, the recovery
    account restores from the vault), keys not compared (SoftHSM2 is not timed here).

    HSM time: from the refresh's CreateHsm to the refresh seeing the HSM gone (its own
    record: hsm_created_at, hsm_gone_at; wall seconds x the clock's scale), against the
    floor the emulator drew for that HSM (hsm_create + backup_create + hsm_delete of the
    profile, jitter included), and against HSM create + HSM delete alone (the emulator
    backs up while the HSM is being deleted, so that is the HSM's shortest life).
    Vault age: the vault backup's own age right after the refresh (emulated) against
    the age of the production backup it holds (seeded, so not scaled): the data in the
    vault is that old, which is what VAULT_STALE holds to the objective."""
    from sandbox.emulator.profile import REALISTIC_SPEEDUP
    from sandbox.session import speed
    from sandbox.vault_scenarios import recover_from_vault

    with speed(speed_name):
        report = recover_from_vault(keys=False)
    scale = REALISTIC_SPEEDUP if speed_name == "realistic" else 1.0
    hsm = report["hsm_seconds"]
    floor = report["hsm_floor_seconds"]
    steps = report["hsm_floor_steps"]
    # The emulator takes the backup while the HSM is being deleted (both start at
    # DeleteHsm): the HSM can be gone after HSM create + HSM delete alone.
    life_floor = round(steps["hsm_create"] + steps["hsm_delete"], 3)
    emulated_hsm = None if hsm is None else round(hsm * scale, 3)
    vault_age = report["vault_age_seconds"]
    source_age = report["source_backup_age_seconds"]
    rto = report["rto_seconds"]
    return {
        "status": report["status"],
        "speed": speed_name,
        "time_scale": scale,
        "refresh_hsm_seconds": emulated_hsm,
        "refresh_hsm_floor_seconds": floor,
        "refresh_hsm_ratio": round(emulated_hsm / floor, 3) if emulated_hsm and floor else None,
        "refresh_hsm_within_aim": bool(emulated_hsm and floor)
        and emulated_hsm < VAULT_HSM_AIM * floor,
        "aim": f"refresh HSM seconds < {VAULT_HSM_AIM} x floor",
        "refresh_hsm_floor_steps": steps,
        "refresh_hsm_life_floor_seconds": life_floor,
        "refresh_hsm_ratio_to_life_floor": (
            round(emulated_hsm / life_floor, 3) if emulated_hsm and life_floor else None
        ),
        "vault_age_after_refresh_seconds": None
        if vault_age is None
        else round(vault_age * scale, 3),
        "source_backup_age_seconds": source_age,
        "restore_rto_seconds": None if rto is None else round(rto * scale, 3),
        "restore_rpo_seconds": report["rpo_seconds"],
        "vault_backups": report["vault_backups"],
        "leaked_resources": report["leaked_resources"],
    }


ENTRIES: dict[str, Callable[[], dict[str, Any]]] = {
    "cold_import": cold_import,
    "verification_at_scale": verification_at_scale,
    "on_demand_backup_hsm_time": on_demand_backup_hsm_time,
    "restore_times": restore_times,
    "pilot_light_restore": lambda: pilot_light_restore("demo"),
    "pilot_light_restore_realistic": lambda: pilot_light_restore("realistic"),
    "posture_rto_realistic": lambda: posture_rto("realistic"),
    "drill_hsm_time": drill_hsm_time,
    "vault_refresh_realistic": lambda: vault_refresh("realistic"),
}


def main(names: list[str] | None = None) -> None:
    """Every entry, or only those named (python -m bench.run NAME ...)."""
    wanted = names or list(ENTRIES)
    unknown = [n for n in wanted if n not in ENTRIES]
    if unknown:
        raise SystemExit(f"unknown bench entries {unknown}: choose from {sorted(ENTRIES)}")
    result = {name: ENTRIES[name]() for name in wanted}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
