"""The warm standbys' key check: which standby is checked, the rules that let the
verifier in and out again (tags re-read first), and what a report means."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lambdas.alerting.alerts import finding_severity
from lambdas.shared.findings import FindingCode
from lambdas.shared.models import Cluster
from lambdas.shared.severity import NOTIFY, PAGE
from lambdas.shared.standby import ADOPTED_BY_KEY, standby_tags
from lambdas.standby.key_check import (
    KEY_CHECK_TAG,
    StandbyTarget,
    finding_for,
    key_check_alert,
    targets,
    verify_event,
)
from lambdas.standby.key_check_handler import check_standbys
from lambdas.standby.settings import StandbySettings
from tests.lambdas.factories import CLUSTER_ID, backup, hsm

DEPLOYMENT = "hsmdr-test"
REGION = "us-west-2"
COPY = backup(age=timedelta(hours=2), backup_id="backup-newcopyaaaaa")
STANDBY = "cluster-standbyaaaaa"
TARGET = StandbyTarget(CLUSTER_ID, STANDBY, "sg-0aaaabbbbcccc1111", ("10.0.1.10",))
MISSING = {
    "code": "KEY_MISSING",
    "severity": "error",
    "label": "aes-payments-2",
    "message": "key 'aes-payments-2' is in the manifest but not on the cluster",
}


def warm(*hsms: Any, cluster_id: str = STANDBY, **tags: str) -> Cluster:
    return Cluster(
        cluster_id=cluster_id,
        state="ACTIVE",
        hsm_type="hsm2m.medium",
        mode="FIPS",
        hsms=hsms,
        security_group="sg-0aaaabbbbcccc1111",
        tags={**standby_tags(DEPLOYMENT, CLUSTER_ID, COPY), **tags},
    )


def report(status: str, findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": status,
        "manifest_key": f"manifests/{CLUSTER_ID}/2026-11-26T09:00:00Z.json",
        "keys_expected": 8,
        "keys_found": 8 - len(findings),
        "findings": findings,
    }


def test_the_warm_standby_with_an_active_hsm_is_the_target() -> None:
    found, without = targets([warm(hsm("us-west-2a"))], DEPLOYMENT, [CLUSTER_ID])
    assert found == [TARGET] and without == []
    assert verify_event(TARGET, REGION) == {
        "cluster_id": STANDBY,
        "manifest_cluster_id": CLUSTER_ID,
        "region": REGION,
        "hsm_ips": ["10.0.1.10"],
    }


def test_no_active_hsm_or_another_deployments_cluster_is_not_a_target() -> None:
    others = [
        warm(hsm("us-west-2a", state="CREATE_IN_PROGRESS")),
        warm(hsm("us-west-2a"), cluster_id="cluster-otherdeploy1", **{"hsmdr:deployment": "x"}),
        warm(hsm("us-west-2a"), cluster_id="cluster-adoptedaaaa1", **{ADOPTED_BY_KEY: "dr-1"}),
    ]
    found, without = targets(others, DEPLOYMENT, [CLUSTER_ID])
    assert found == [] and without == [CLUSTER_ID]


def test_every_key_found_is_no_finding() -> None:
    assert finding_for(TARGET, REGION, report("SUCCEEDED", []), None) is None
    assert key_check_alert([], DEPLOYMENT, REGION) is None


def test_a_missing_key_pages_with_the_standby_and_the_key() -> None:
    finding = finding_for(TARGET, REGION, report("FAILED", [MISSING]), None)
    assert finding is not None and finding.code is FindingCode.STANDBY_KEYS_MISMATCH
    assert finding_severity(finding) == PAGE
    assert STANDBY in finding.message and "KEY_MISSING aes-payments-2" in finding.message
    assert "(7 of 8 found)" in finding.message
    alert = key_check_alert([finding], DEPLOYMENT, REGION)
    assert alert is not None and alert.severity == PAGE
    assert "STANDBY_KEYS_MISMATCH" in alert.body and "docs/runbooks/standby.md" in alert.body


def test_a_check_that_could_not_run_notifies() -> None:
    finding = finding_for(TARGET, REGION, None, "KeyManifestNotFound: bucket unreachable")
    assert finding is not None and finding.code is FindingCode.STANDBY_KEYS_UNCHECKED
    assert finding_severity(finding) == NOTIFY
    assert "KeyManifestNotFound" in finding.message


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self.calls.append((name, kwargs))


class Gateway:
    def __init__(self, clusters: list[Cluster], tags: dict[str, str]) -> None:
        self.clusters, self.tags = clusters, tags

    def describe_clusters(self) -> list[Cluster]:
        return self.clusters

    def list_tags(self, resource_id: str) -> dict[str, str]:
        return self.tags


SETTINGS = StandbySettings(
    DEPLOYMENT, REGION, (CLUSTER_ID,), ("subnet-a",), warm_cluster_ids=(CLUSTER_ID,)
)


def test_the_verifier_is_let_in_for_the_check_then_out_again() -> None:
    ec2 = Recorder()
    standby = warm(hsm("us-west-2a"))
    answer = check_standbys(
        SETTINGS,
        Gateway([standby], dict(standby.tags)),  # type: ignore[arg-type]
        region=REGION,
        verifier_group="sg-0verifierverifier",
        ec2=ec2,
        invoke=lambda payload: (report("SUCCEEDED", []), None),
    )
    assert [name for name, _ in ec2.calls] == [
        "create_tags",
        "authorize_security_group_ingress",
        "authorize_security_group_egress",
        "revoke_security_group_egress",
        "revoke_security_group_ingress",
    ]
    assert ec2.calls[0][1]["Tags"] == [{"Key": KEY_CHECK_TAG, "Value": CLUSTER_ID}]
    assert answer["checked"][0]["status"] == "SUCCEEDED" and answer["findings"] == []


def test_the_rules_are_revoked_when_the_invocation_raises() -> None:
    ec2 = Recorder()
    standby = warm(hsm("us-west-2a"))

    def broken(payload: dict[str, Any]) -> tuple[Any, str | None]:
        raise TimeoutError("verify-keys did not answer")

    with pytest.raises(TimeoutError):
        check_standbys(
            SETTINGS,
            Gateway([standby], dict(standby.tags)),  # type: ignore[arg-type]
            region=REGION,
            verifier_group="sg-0verifierverifier",
            ec2=ec2,
            invoke=broken,
        )
    assert [name for name, _ in ec2.calls][-2:] == [
        "revoke_security_group_egress",
        "revoke_security_group_ingress",
    ]


def test_a_standby_whose_tags_changed_is_not_touched_and_says_so() -> None:
    ec2 = Recorder()
    standby = warm(hsm("us-west-2a"))
    answer = check_standbys(
        SETTINGS,
        Gateway([standby], {**standby.tags, ADOPTED_BY_KEY: "dr-1"}),  # type: ignore[arg-type]
        region=REGION,
        verifier_group="sg-0verifierverifier",
        ec2=ec2,
        invoke=lambda payload: (_ for _ in ()).throw(AssertionError("no check")),
    )
    assert ec2.calls == []
    assert [f["code"] for f in answer["findings"]] == ["STANDBY_KEYS_UNCHECKED"]
