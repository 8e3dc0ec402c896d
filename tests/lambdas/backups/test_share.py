"""Sharing with the recovery account: which backups are shared and unshared (pure), and
the job against the CloudHSM emulator: what it puts, what it removes, what it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from lambdas.backups.share import (
    SHARED_ACTIONS,
    SHARED_WITH_KEY,
    ShareAction,
    is_our_share,
    plan_sharing,
    share_policy,
)
from lambdas.backups.share_job import share_backups
from lambdas.backups.share_ram import RamShares
from lambdas.backups.share_settings import ShareSettings
from lambdas.shared.gateway import CloudHsmGateway
from lambdas.shared.settings import SettingsError
from sandbox.emulator import PROFILES, CloudHsmWorld, install
from tests.emulator.helpers import client, make_network, seed
from tests.lambdas.factories import CLUSTER_ID, backup

RECOVERY = "210987654321"
ARN = "arn:aws:cloudhsm:us-east-1:123456789012:backup/"


def mine(n: int, hours: float, state: str = "READY", **overrides: Any) -> Any:
    return backup(
        age=timedelta(hours=hours),
        state=state,
        backup_id=f"backup-aaaaaaaaaa{n}",
        backup_arn=f"{ARN}backup-aaaaaaaaaa{n}",
        **overrides,
    )


def actions(decisions: list[Any]) -> dict[str, str]:
    return {d.backup.backup_id: d.action.value for d in decisions}


# Pure decisions ---------------------------------------------------------------------


def test_newest_ready_is_shared_and_older_shared_ones_unshared() -> None:
    older_shared = mine(2, 30, tags={SHARED_WITH_KEY: RECOVERY})
    decisions = plan_sharing(
        [mine(1, 2), older_shared, mine(3, 50), mine(4, 1, state="CREATE_IN_PROGRESS")],
        region="us-east-1",
        cluster_ids=[CLUSTER_ID],
        account=RECOVERY,
    )
    assert actions(decisions) == {
        "backup-aaaaaaaaaa1": "share",
        "backup-aaaaaaaaaa2": "unshare",
    }


def test_without_a_ready_backup_the_shared_one_is_kept() -> None:
    decisions = plan_sharing(
        [mine(1, 2, state="PENDING_DELETION", tags={SHARED_WITH_KEY: RECOVERY})],
        region="us-east-1",
        cluster_ids=[CLUSTER_ID],
        account=RECOVERY,
    )
    assert [d.action for d in decisions] == [ShareAction.KEEP]


def test_backups_of_other_clusters_and_other_accounts_shares_are_ignored() -> None:
    decisions = plan_sharing(
        [
            mine(1, 2, cluster_id="cluster-someoneelse1"),
            mine(2, 30, tags={SHARED_WITH_KEY: "999999999999"}),
        ],
        region="us-east-1",
        cluster_ids=[CLUSTER_ID],
        account=RECOVERY,
    )
    assert actions(decisions) == {"backup-aaaaaaaaaa2": "share"}


def test_copies_group_by_their_source_cluster() -> None:
    copy = mine(1, 2, cluster_id="", source_cluster=CLUSTER_ID, source_backup="backup-x")
    decisions = plan_sharing([copy], region="us-west-2", cluster_ids=[CLUSTER_ID], account=RECOVERY)
    assert actions(decisions) == {"backup-aaaaaaaaaa1": "share"}


def test_policy_grants_only_describe_and_restore_to_the_recovery_root() -> None:
    arn = f"{ARN}backup-aaaaaaaaaa1"
    (statement,) = json.loads(share_policy(arn, RECOVERY))["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{RECOVERY}:root"}
    assert statement["Action"] == list(SHARED_ACTIONS)
    assert statement["Resource"] == arn
    assert is_our_share(share_policy(arn, RECOVERY), arn, RECOVERY)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(Action=["cloudhsm:*"]),
        lambda s: s.update(Principal={"AWS": "arn:aws:iam::999999999999:root"}),
        lambda s: s.update(Resource="*"),
        lambda s: s.update(Sid="SomeoneElse"),
    ],
)
def test_a_policy_it_did_not_write_is_not_ours(change: Any) -> None:
    arn = f"{ARN}backup-aaaaaaaaaa1"
    document = json.loads(share_policy(arn, RECOVERY))
    change(document["Statement"][0])
    assert not is_our_share(json.dumps(document), arn, RECOVERY)
    assert not is_our_share(None, arn, RECOVERY)
    assert not is_our_share("not json", arn, RECOVERY)


def test_settings_round_trip_and_refuse_garbage() -> None:
    settings = ShareSettings("hsmdr-test", RECOVERY, ((CLUSTER_ID, "us-east-1"),), ("us-west-2",))
    assert ShareSettings.from_env(settings.to_env()) == settings
    assert settings.regions() == ["us-east-1", "us-west-2"]
    with pytest.raises(SettingsError, match="HSMDR_SHARE_SETTINGS"):
        ShareSettings.from_env({})


# The job against the emulator (one account: the sharing side) -----------------------


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudHsmWorld]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    world = CloudHsmWorld(profile=PROFILES["test"], rng_seed=7)
    with mock_aws(), install(world):
        yield world


def run(cluster_id: str) -> Any:
    settings = ShareSettings("hsmdr-test", RECOVERY, ((cluster_id, "us-east-1"),), ())
    return share_backups(
        settings,
        lambda region: CloudHsmGateway(client("cloudhsmv2", region)),
        lambda region: RamShares(client("ram", region)),
    )


def backups_newest_first(cluster_id: str) -> list[dict[str, Any]]:
    hsm = client("cloudhsmv2", "us-east-1")
    found = hsm.describe_backups(Filters={"clusterIds": [cluster_id]}, SortAscending=False)
    return list(found["Backups"])


def policy_of(arn: str) -> str | None:
    policy = client("cloudhsmv2", "us-east-1").get_resource_policy(ResourceArn=arn).get("Policy")
    return None if policy is None else str(policy)


def test_job_shares_the_newest_then_unshares_the_one_shared_before(world: CloudHsmWorld) -> None:
    cluster_id = seed(world, make_network("us-east-1"), hours=(2, 26, 50))
    newest, older, _ = backups_newest_first(cluster_id)
    hsm = client("cloudhsmv2", "us-east-1")
    # Given an older backup shared by an earlier run
    hsm.put_resource_policy(
        ResourceArn=older["BackupArn"], Policy=share_policy(older["BackupArn"], RECOVERY)
    )
    hsm.tag_resource(
        ResourceId=older["BackupId"], TagList=[{"Key": SHARED_WITH_KEY, "Value": RECOVERY}]
    )
    # When the job runs
    result = run(cluster_id)
    # Then the newest is shared and tagged, the older one no longer is
    assert result.status == "SUCCEEDED", result.to_dict()
    assert result.shared == [newest["BackupId"]]
    assert result.promoted == [newest["BackupId"]]  # the recipient lists it only then
    assert result.unshared == [older["BackupId"]]
    assert is_our_share(policy_of(newest["BackupArn"]), newest["BackupArn"], RECOVERY)
    assert policy_of(older["BackupArn"]) is None
    tags = {b["BackupId"]: b.get("TagList", []) for b in backups_newest_first(cluster_id)}
    assert {"Key": SHARED_WITH_KEY, "Value": RECOVERY} in tags[newest["BackupId"]]
    assert all(t["Key"] != SHARED_WITH_KEY for t in tags[older["BackupId"]])
    # And a second run changes nothing
    again = run(cluster_id)
    assert (again.shared, again.promoted, again.unshared) == ([], [], [])
    assert again.status == "SUCCEEDED"


def test_job_leaves_a_foreign_policy_and_keeps_the_older_share(world: CloudHsmWorld) -> None:
    cluster_id = seed(world, make_network("us-east-1"), hours=(2, 26))
    newest, older = backups_newest_first(cluster_id)
    hsm = client("cloudhsmv2", "us-east-1")
    foreign = json.loads(share_policy(newest["BackupArn"], "999999999999"))
    foreign["Statement"][0]["Sid"] = "SharedByHand"
    hsm.put_resource_policy(ResourceArn=newest["BackupArn"], Policy=json.dumps(foreign))
    hsm.put_resource_policy(
        ResourceArn=older["BackupArn"], Policy=share_policy(older["BackupArn"], RECOVERY)
    )
    hsm.tag_resource(
        ResourceId=older["BackupId"], TagList=[{"Key": SHARED_WITH_KEY, "Value": RECOVERY}]
    )
    result = run(cluster_id)
    # The foreign policy is neither replaced nor removed; the vault keeps the older share.
    assert result.status == "FAILED"
    assert any(newest["BackupId"] in r for r in result.refused)
    assert json.loads(policy_of(newest["BackupArn"]) or "{}") == foreign
    assert is_our_share(policy_of(older["BackupArn"]), older["BackupArn"], RECOVERY)
    assert result.unshared == []


class FakeRam:
    """RAM answering more than asked (moto ignores resourceShareArns), with a deleted
    share and a disassociated one among them."""

    def get_resource_share_associations(self, **_: Any) -> dict[str, Any]:
        return {
            "resourceShareAssociations": [
                {"resourceShareArn": "arn:share/policy", "status": "ASSOCIATED"},
                {"resourceShareArn": "arn:share/gone", "status": "DISASSOCIATED"},
            ]
        }

    def get_resource_shares(self, **_: Any) -> dict[str, Any]:
        return {
            "resourceShares": [
                {"resourceShareArn": "arn:share/other", "featureSet": "CREATED_FROM_POLICY"},
                {"resourceShareArn": "arn:share/gone", "featureSet": "CREATED_FROM_POLICY"},
                {"resourceShareArn": "arn:share/policy", "featureSet": "STANDARD"},
            ]
        }


def test_the_share_of_a_backup_is_only_one_that_holds_it() -> None:
    share = RamShares(FakeRam()).share_of(f"{ARN}backup-aaaaaaaaaa1")
    assert share is not None
    assert (share.arn, share.needs_promotion) == ("arn:share/policy", False)
