"""`hsmdr sandbox replace-hsm|restore --speed realistic`: AWS's durations on a clock
120x faster than the wall, the report's RTO also in emulated seconds.

Asserted on emulated durations the emulator drew from the realistic profile and on
bounds that follow from them, never on wall time: a loaded machine only makes the
wall-clock part (the sandbox's own processing) longer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hsmdr.cli import main
from sandbox.emulator import PROFILES

pytestmark = pytest.mark.slow

REALISTIC = PROFILES["realistic"]


def bounds(step: str) -> tuple[float, float]:
    """The emulated seconds a step can take: the realistic duration +/- its jitter."""
    base: timedelta = getattr(REALISTIC, step)
    spread = base * REALISTIC.jitter
    return (base - spread).total_seconds(), (base + spread).total_seconds()


def test_replacement_at_realistic_speed_reports_a_realistic_rto(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "replace-hsm", "--speed", "realistic", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    clock = report["clock"]
    assert clock["speed"] == "realistic" and clock["time_scale"] == 120
    # Every emulated step lasted what AWS takes (the replacement HSM's creation among them)
    steps = clock["emulated_step_seconds"]
    assert steps["hsm_create"]
    for step, durations in steps.items():
        low, high = bounds(step)
        assert all(low - 0.001 <= d <= high + 0.001 for d in durations), (step, durations)
    # The RTO in emulated seconds is the measured one on the 120x clock, and spans at
    # least the replacement HSM's creation: 15 minutes, give or take the jitter
    emulated = clock["emulated"]
    assert emulated["rto_seconds"] == pytest.approx(report["rto_seconds"] * 120, abs=0.1)
    assert emulated["rto_seconds"] >= min(steps["hsm_create"]) - 0.1
    assert emulated["rto_seconds"] >= bounds("hsm_create")[0] - 0.1


def test_restore_at_realistic_speed_shows_a_restore_rto_of_realistic_minutes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["sandbox", "restore", "--speed", "realistic", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    clock = report["clock"]
    steps = clock["emulated_step_seconds"]
    # the restored cluster and its two HSMs, each as long as AWS takes
    assert len(steps["cluster_create"]) == 1 and len(steps["hsm_create"]) == 2
    for step, durations in steps.items():
        low, high = bounds(step)
        assert all(low - 0.001 <= d <= high + 0.001 for d in durations), (step, durations)
    # Service is back no sooner than the new cluster and its first HSM exist: in
    # emulated time at least 15 minutes (20, less the jitter), whatever the machine
    emulated = clock["emulated"]
    assert emulated["rto_seconds"] == pytest.approx(report["rto_seconds"] * 120, abs=0.1)
    assert emulated["rto_seconds"] >= steps["cluster_create"][0] + min(steps["hsm_create"]) - 0.1
    assert emulated["rto_seconds"] >= bounds("cluster_create")[0] + bounds("hsm_create")[0] - 0.1
    assert emulated["rto_seconds"] < emulated["time_to_full_ha_seconds"]


@pytest.mark.demo_pace  # the shipped demo speed, uncompressed
def test_demo_speed_adds_no_clock(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sandbox", "verify-backups", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and "clock" not in report
