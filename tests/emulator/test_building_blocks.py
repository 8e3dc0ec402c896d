"""The emulator's small parts on their own: ids, profiles, scheduler, pagination,
timestamps."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.emulator import PROFILES, CloudHsmWorld, DurationProfile
from sandbox.emulator.errors import CloudHsmInvalidRequestException
from sandbox.emulator.ids import BACKUP_ID_RE, CLUSTER_ID_RE, HSM_ID_RE, IdFactory, parse_arn
from sandbox.emulator.moto_plugin import sfn_timestamp
from sandbox.emulator.pagination import page
from sandbox.emulator.scheduler import Scheduler

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_ids_have_the_service_format_and_are_reproducible_with_a_seed() -> None:
    """Given two id factories with the same seed
    When each draws a cluster, backup and HSM id
    Then the ids match the model's patterns (11 chars of [a-z2-7]) and are equal."""
    first, second = IdFactory(random.Random(5)), IdFactory(random.Random(5))

    drawn = [first.cluster_id(), first.backup_id(), first.hsm_id()]

    assert drawn == [second.cluster_id(), second.backup_id(), second.hsm_id()]
    assert CLUSTER_ID_RE.match(drawn[0]) and len(drawn[0]) == len("cluster-") + 11
    assert BACKUP_ID_RE.match(drawn[1])
    assert HSM_ID_RE.match(drawn[2])
    assert set(drawn[0].removeprefix("cluster-")) <= set("abcdefghijklmnopqrstuvwxyz234567")


def test_arns_parse_with_partition_region_account_and_kind() -> None:
    """Given a backup ARN, a GovCloud cluster ARN and garbage
    When they are parsed
    Then the parts come out, and garbage gives None."""
    backup = parse_arn("arn:aws:cloudhsm:eu-west-1:123456789012:backup/backup-abcdefghijk")
    cluster = parse_arn(
        "arn:aws-us-gov:cloudhsm:us-gov-west-1:123456789012:cluster/cluster-abcdefghijk"
    )

    assert backup is not None and (backup.region, backup.kind) == ("eu-west-1", "backup")
    assert cluster is not None and (cluster.partition, cluster.kind) == ("aws-us-gov", "cluster")
    assert parse_arn("arn:aws:s3:::bucket") is None


def test_profiles_order_realistic_demo_test_and_can_be_overridden() -> None:
    """Given the built-in profiles
    When they are compared and one is overridden with dataclasses.replace
    Then realistic HSM creation takes minutes (facts page: 10-25), demo seconds, test
    fractions of a second; the override changes only that field."""
    realistic, demo, test = PROFILES["realistic"], PROFILES["demo"], PROFILES["test"]
    quicker = dataclasses.replace(demo, hsm_create=timedelta(seconds=1))

    assert timedelta(minutes=10) <= realistic.hsm_create <= timedelta(minutes=25)
    assert timedelta(minutes=10) <= realistic.hsm_delete <= timedelta(minutes=15)
    assert demo.hsm_create == timedelta(seconds=3)
    durations = [getattr(test, f.name) for f in dataclasses.fields(DurationProfile)]
    assert all(d <= timedelta(seconds=0.2) for d in durations if isinstance(d, timedelta))
    assert PROFILES["fast"] is test
    assert quicker.hsm_create == timedelta(seconds=1)
    assert quicker.hsm_delete == demo.hsm_delete
    with pytest.raises(ValueError, match="jitter"):
        dataclasses.replace(demo, jitter=1.5)


def test_scheduler_fires_due_transitions_in_due_order_with_their_own_time() -> None:
    """Given transitions due at +3, +1 and +2 minutes, one of which schedules another
    When the scheduler runs at +2.5 minutes
    Then the three due ones fire in due order, each seeing its own due time, including
    the one scheduled during the run; the +3 one waits."""
    scheduler = Scheduler()
    fired: list[tuple[str, datetime]] = []

    def record(name: str) -> Callable[[datetime], None]:
        return lambda due: fired.append((name, due))

    def first_then_follow_up(due: datetime) -> None:
        fired.append(("a", due))
        scheduler.at(due + timedelta(seconds=30), "a2", record("a2"))

    scheduler.at(T0 + timedelta(minutes=3), "c", record("c"))
    scheduler.at(T0 + timedelta(minutes=1), "a", first_then_follow_up)
    scheduler.at(T0 + timedelta(minutes=2), "b", record("b"))

    count = scheduler.run_due(T0 + timedelta(minutes=2, seconds=30))

    assert count == 3
    assert [name for name, _ in fired] == ["a", "a2", "b"]
    assert fired[1][1] == T0 + timedelta(minutes=1, seconds=30)
    assert [t.label for t in scheduler.pending()] == ["c"]


def test_pagination_tokens_are_bound_to_their_operation() -> None:
    """Given 7 items paged 3 at a time
    When the pages are walked, and a token is replayed on another operation
    Then pages hold 3, 3, 1 and the foreign token is refused."""
    items = list(range(7))
    first, token = page(items, {"MaxResults": 3}, operation="A", limit=5, default=5)
    second, token2 = page(
        items, {"MaxResults": 3, "NextToken": token}, operation="A", limit=5, default=5
    )
    third, end = page(
        items, {"MaxResults": 3, "NextToken": token2}, operation="A", limit=5, default=5
    )

    assert (first, second, third, end) == ([0, 1, 2], [3, 4, 5], [6], None)
    with pytest.raises(CloudHsmInvalidRequestException):
        page(items, {"NextToken": token}, operation="B", limit=5, default=5)


def test_step_functions_timestamps_look_like_java_instants() -> None:
    """Given datetimes with and without milliseconds, in another time zone
    When rendered for Step Functions
    Then they are UTC ISO-8601 with a Z and milliseconds only when present."""
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))

    assert sfn_timestamp(datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)) == "2024-05-01T12:00:00Z"
    assert sfn_timestamp(T0.replace(microsecond=120000)) == "2024-05-01T12:00:00.120Z"


def test_settle_times_out_when_transitions_outlast_it() -> None:
    """Given a world on the realistic profile with a pending 15-minute HSM creation
    When settle is given 0.05 seconds
    Then it raises TimeoutError naming what is pending."""
    world = CloudHsmWorld(profile=PROFILES["realistic"])
    world._core.scheduler.at(
        datetime.now(UTC) + timedelta(minutes=15), "hsm x created", lambda _: None
    )

    with pytest.raises(TimeoutError, match="hsm x created"):
        world.settle(timeout=0.05)


def test_all_eighteen_model_operations_are_served() -> None:
    """Given botocore's cloudhsmv2 service model
    When its operation names are compared with the emulator's
    Then the emulator serves exactly those 18 operations."""
    import botocore.session

    from sandbox.emulator.operations import OPERATIONS

    model = botocore.session.get_session().get_service_model("cloudhsmv2")

    assert set(OPERATIONS) == set(model.operation_names)
    assert len(OPERATIONS) == 18


def test_time_travel_only_goes_forward() -> None:
    """Given a world
    When time_travel is asked to go backwards
    Then ValueError is raised."""
    with pytest.raises(ValueError, match="forward"):
        CloudHsmWorld().time_travel(timedelta(hours=-1))
