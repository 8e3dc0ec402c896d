"""The compressed clock (`--speed realistic`): AWS's realistic durations, run N times
faster than the wall clock, reported in emulated time.

Assertions are on the emulated durations the world drew from the profile, never on
wall time: a loaded machine makes a run slower, never its emulated steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.emulator import PROFILES, SPEEDS, CloudHsmWorld, compressed
from sandbox.emulator.profile import REALISTIC_SPEEDUP, STEPS
from tests.emulator.helpers import REGION, Network, client, create_uninitialized, make_network

REALISTIC = PROFILES["realistic"]


@pytest.mark.demo_pace  # it checks the shipped demo speed, uncompressed
def test_realistic_speed_is_aws_durations_on_a_clock_120x_faster() -> None:
    fast = SPEEDS["realistic"]
    assert fast.time_scale == REALISTIC_SPEEDUP == 120
    assert fast.jitter == REALISTIC.jitter
    for step in STEPS:
        wall = getattr(fast, step)
        assert wall == getattr(REALISTIC, step) / 120, step
        assert fast.emulated(wall) == getattr(REALISTIC, step), step
    # a 15-minute HSM creation takes 7.5 s of wall time
    assert fast.hsm_create == timedelta(seconds=7.5)
    assert SPEEDS["demo"] is PROFILES["demo"] and SPEEDS["demo"].time_scale == 1


def test_compression_composes_and_refuses_slowing_down() -> None:
    twice = compressed(compressed(REALISTIC, 10), 12)
    assert twice.time_scale == 120
    assert twice.emulated(twice.hsm_create) == REALISTIC.hsm_create
    with pytest.raises(ValueError, match="speedup"):
        compressed(REALISTIC, 0.5)


def within_jitter(step: str, emulated: timedelta) -> bool:
    base: timedelta = getattr(REALISTIC, step)
    spread = base * REALISTIC.jitter
    return base - spread <= emulated <= base + spread


@pytest.fixture
def fast_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudHsmWorld]:
    from moto import mock_aws

    from sandbox.emulator import install

    # 3000x: a 15-minute HSM creation takes 0.3 s, so the test waits little
    world = CloudHsmWorld(profile=compressed(REALISTIC, 3000), rng_seed=7)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws(), install(world):
        yield world


def build_cluster(world: CloudHsmWorld, network: Network) -> None:
    hsm = client("cloudhsmv2", REGION)
    cluster_id = create_uninitialized(hsm, network, world)
    hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=f"{REGION}a")
    world.settle()
    [created] = world.hsms(cluster_id)
    hsm.delete_hsm(ClusterId=cluster_id, HsmId=created["HsmId"])
    world.settle()


def test_a_world_on_the_compressed_clock_reports_realistic_emulated_durations(
    fast_world: CloudHsmWorld,
) -> None:
    # When a cluster is created, gets an HSM, and loses it
    build_cluster(fast_world, make_network(REGION))
    # Then every step the world scheduled lasted, in emulated time, what AWS takes
    drawn = fast_world.emulated_durations()
    assert [step for step, _ in drawn] == ["cluster_create", "hsm_create", "hsm_delete"]
    for step, emulated in drawn:
        assert within_jitter(step, emulated), (step, emulated)
