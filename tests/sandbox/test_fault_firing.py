"""Sandbox faults fire where they are asked to, or are refused saying why; every report
counts what fired (issue 11, item 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.backup_scenarios import create_backup
from sandbox.session import FaultError, Sandbox
from tests.conftest import Synthesized
from tests.sandbox.restore_support import EAST, SOURCE, WEST, disaster, restore


@pytest.fixture
def seeded(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


@pytest.fixture
def lost(synthesized: Synthesized) -> Iterator[Sandbox]:
    sandbox = disaster(synthesized)
    yield sandbox
    sandbox.__exit__(None, None, None)


# Refused, naming the fault and why -------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "why"),
    [
        (["meteor"], "--fault 'meteor' is not a fault"),
        (["lambda-crash:restore-clustr"], "no deployed function is called 'restore-clustr'"),
        (
            ["lambda-crash:restore-cluster@chek_hsm"],
            "no state machine invokes restore-cluster with step 'chek_hsm'; its steps: ",
        ),
        (["lambda-crash:verify-backups@plan"], "verify-backups is not invoked step by step"),
        (["az-unsupported:us-east-1z"], "the sandbox has no such Availability Zone"),
        (
            ["az-unsupported:us-west-2a"],
            "it is in us-west-2, but this run creates HSMs",
        ),
        (["throttle", "throttle"], "--fault throttle is given 2 times"),
        (["az-unsupported", "az-unsupported:us-east-1a"], "is given 2 times: name another zone"),
        (["hsm-failure"] * 3, "given 3 times but the cluster has 2 ACTIVE HSM(s)"),
        (["hsm-failure:cluster-nonexistent"], "the sandbox holds no cluster cluster-nonexistent"),
        (["key-missing"], "cannot fire in this run: it damages keys"),
        (["backup-stuck:x"], "backup-stuck takes no argument"),
    ],
)
def test_a_fault_that_cannot_fire_is_refused_before_any_applies(
    seeded: Sandbox, faults: list[str], why: str
) -> None:
    with pytest.raises(FaultError, match=None) as refused:
        seeded.apply_faults(["hsm-degraded", *faults])
    assert why in str(refused.value)
    assert seeded.world.faults.active() == {} and seeded.applied_faults == []


def test_a_fault_the_scenario_cannot_use_is_refused(seeded: Sandbox) -> None:
    with pytest.raises(FaultError, match="hsm-degraded: cannot fire in this run: no HSM"):
        seeded.apply_faults(["hsm-degraded"], unusable={"hsm-degraded": "no HSM"})


# Repeats add up ------------------------------------------------------------------------


def test_hsm_failure_twice_fails_two_hsms(seeded: Sandbox) -> None:
    seeded.apply_faults(["hsm-failure", "hsm-failure"])
    states = sorted(h["State"] for h in seeded.world.hsms(SOURCE))
    assert states == ["DEGRADED", "DEGRADED"]
    assert seeded.faults_fired()["faults_fired"] == {f"hsm-failure:{SOURCE}": 2}


def test_hsm_degraded_twice_degrades_two_hsms_and_the_backup_rides_it_out(
    seeded: Sandbox,
) -> None:
    seeded.apply_faults(["hsm-degraded", "hsm-degraded"])
    report = create_backup(seeded)
    assert report["status"] == "SUCCEEDED", report["cause"]
    assert report["faults"] == ["hsm-degraded", "hsm-degraded"]
    assert report["faults_fired"] == {"hsm-degraded": 2}
    assert report["faults_not_fired"] == []
    assert report["leaked_resources"] == {"hsms": [], "clusters": []}


def test_crashes_of_two_steps_of_one_function_both_fire(seeded: Sandbox) -> None:
    seeded.apply_faults(
        ["lambda-crash:on-demand-backup@check_backup", "lambda-crash:on-demand-backup@describe"]
    )
    report = create_backup(seeded)
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    fired = report["faults_fired"]
    assert fired["lambda-crash:on-demand-backup@check_backup"] >= 1
    # The failed run never reached `describe`: the report says so instead of hiding it.
    assert report["faults_not_fired"] == ["lambda-crash:on-demand-backup@describe"]


# Faults reach where the run goes --------------------------------------------------------


def test_lambda_crash_reaches_the_dr_stacks_function(lost: Sandbox) -> None:
    # Given a crash of restore-cluster's verify step, When the restore runs in the DR region
    lost.apply_faults(["lambda-crash:restore-cluster@verify"], region=WEST)
    report = restore(lost, WEST)
    # Then the DR stack's function crashed there
    assert report["status"] == "FAILED" and report["error"] == "SandboxInjectedCrash"
    assert ":us-west-2:" in report["execution_arn"]
    assert lost.faults_fired()["faults_fired"]["lambda-crash:restore-cluster@verify"] >= 1


@pytest.mark.parametrize("region", [EAST, WEST])
def test_az_unsupported_without_a_zone_hits_the_zone_the_restore_uses(
    lost: Sandbox, region: str
) -> None:
    [applied] = lost.apply_faults(["az-unsupported"], region=region)
    assert applied.text == f"az-unsupported:{region}a"
    report = restore(lost, region)
    fired = lost.faults_fired()
    assert list(fired["faults_fired"]) == [f"az-unsupported:{region}a"]
    assert fired["faults_fired"][f"az-unsupported:{region}a"] >= 1, report["status"]
    assert fired["faults_not_fired"] == []
    zones = {h["availability_zone"] for h in report["hsms"]}
    assert f"{region}a" not in zones  # the restore moved to another zone


def test_a_fault_that_never_fired_is_reported(seeded: Sandbox) -> None:
    seeded.apply_faults(["copy-fails"])
    report = create_backup(seeded)  # an on-demand backup copies nothing
    assert report["status"] == "SUCCEEDED"
    assert report["faults_fired"] == {"copy-fails": 0}
    assert report["faults_not_fired"] == ["copy-fails"]
