"""The restore's own AWS adapters on moto: the restore-id claim in SSM, the client
configuration and the trust anchor copy, and the refusal to delete what this
execution did not create."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.restore.claims import RestoreAlreadyRunning, RestoreClaims
from lambdas.restore.client_config import put_client_config
from lambdas.shared.errors import NotOwnedByThisRun
from lambdas.shared.trust_anchor import copy_trust_anchor, trust_anchor_copy_name

ME = "arn:aws:states:us-west-2:123456789012:execution:dep-restore-cluster:me"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:dep-restore-cluster:other"
CERT = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def ssm(region: str = "us-west-2") -> Any:
    return boto3.client("ssm", region_name=region)


def test_the_first_claim_wins_and_repeating_it_is_harmless(aws: None) -> None:
    claims = RestoreClaims("dep", ssm())
    assert claims.claim("r1", ME, lambda _arn: True) == 1
    assert claims.claim("r1", ME, lambda _arn: True) == 1  # a retried step
    assert claims.holders("r1") == {1: ME}


def test_a_running_holder_refuses_a_second_execution_naming_the_holder(aws: None) -> None:
    RestoreClaims("dep", ssm()).claim("r1", OTHER, lambda _arn: True)
    with pytest.raises(RestoreAlreadyRunning, match=f"being run by {OTHER}"):
        RestoreClaims("dep", ssm()).claim("r1", ME, lambda arn: arn == OTHER)


def test_a_holder_that_stopped_is_taken_over_with_the_next_generation(aws: None) -> None:
    claims = RestoreClaims("dep", ssm())
    claims.claim("r1", OTHER, lambda _arn: True)
    assert claims.claim("r1", ME, lambda _arn: False) == 2
    assert claims.holders("r1") == {1: OTHER, 2: ME}
    assert claims.holders("r2") == {}


def test_client_configuration_parameters_are_written_and_overwritten(aws: None) -> None:
    client = ssm()
    written = put_client_config(
        client, "dep", "cluster-abcdefghijk", {"cluster-id": "cluster-x", "hsm-ips": ["10.0.1.5"]}
    )
    put_client_config(client, "dep", "cluster-abcdefghijk", {"hsm-ips": ["10.0.1.5", "10.0.2.6"]})
    assert written == [
        "/hsmdr/dep/restored/cluster-abcdefghijk/cluster-id",
        "/hsmdr/dep/restored/cluster-abcdefghijk/hsm-ips",
    ]
    ips = client.get_parameter(Name=written[1])["Parameter"]
    assert (ips["Type"], ips["Value"]) == ("StringList", "10.0.1.5,10.0.2.6")


def anchor(parameter: str | None, target: str = "us-west-2") -> dict[str, Any]:
    return copy_trust_anchor(
        parameter=parameter,
        primary_region="us-east-1",
        target_region=target,
        deployment="dep",
        primary_ssm=ssm("us-east-1"),
        target_ssm=ssm(target),
    )


def test_trust_anchor_is_copied_from_the_primary_region(aws: None) -> None:
    ssm("us-east-1").put_parameter(Name="/pki/customerCA.crt", Value=CERT, Type="String")
    result = anchor("/pki/customerCA.crt")
    assert result["status"] == "COPIED"
    copied = ssm().get_parameter(Name=trust_anchor_copy_name("dep"))["Parameter"]["Value"]
    assert copied == CERT


def test_trust_anchor_not_configured_is_skipped_with_a_note(aws: None) -> None:
    result = anchor(None)
    assert result["status"] == "NOT_CONFIGURED"
    assert "restore.trust_anchor_parameter" in result["note"]


def test_trust_anchor_in_the_target_region_already_is_not_copied(aws: None) -> None:
    result = anchor("/pki/customerCA.crt", target="us-east-1")
    assert result["status"] == "IN_REGION" and result["parameter"] == "/pki/customerCA.crt"


def test_primary_unreadable_falls_back_to_an_earlier_copy_or_says_it_is_missing(
    aws: None,
) -> None:
    missing = anchor("/pki/customerCA.crt")
    assert missing["status"] == "MISSING"
    assert (
        "ParameterNotFound" in missing["note"] and "NOT available in us-west-2" in missing["note"]
    )


def test_the_replica_in_the_target_region_is_read_first_and_the_primary_not_at_all(
    aws: None,
) -> None:
    # Given the copy job's replica in the DR region, and a primary region that is down
    ssm().put_parameter(Name=trust_anchor_copy_name("dep"), Value=CERT, Type="String")

    class Down:
        def get_parameter(self, **_: Any) -> Any:
            raise AssertionError("the primary region must not be called")

    result = copy_trust_anchor(
        parameter="/pki/customerCA.crt",
        primary_region="us-east-1",
        target_region="us-west-2",
        deployment="dep",
        primary_ssm=Down(),
        target_ssm=ssm(),
    )
    assert result["status"] == "REPLICA" and result["parameter"] == trust_anchor_copy_name("dep")


def test_only_hsms_this_execution_created_are_ever_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lambdas.restore import handler as restore_cluster

    def no_aws(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no AWS call may happen before the ownership check")

    monkeypatch.setattr(restore_cluster, "_gateway", no_aws)
    job = {
        "plan": {"region": "us-east-1", "hsm_timeout_minutes": 45},
        "run": {
            "cluster_id": "cluster-abcdefghijk",
            "created_hsm_ids": ["hsm-mineminemine"],
            "removed_hsm_ids": [],
            "hsms": {},
            "degraded_zones": [],
            "hsm": {"hsm_id": "hsm-notminenotmi", "status": "DEGRADED", "purpose": "wait"},
        },
    }
    with pytest.raises(NotOwnedByThisRun, match="hsm-notminenotmi"):
        restore_cluster.discard_hsm(job)


def test_of_two_executions_racing_for_one_generation_only_one_wins(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another execution that created generation 1 after this one listed the claims
    RestoreClaims("dep", ssm()).claim("r1", OTHER, lambda _arn: True)
    racer = RestoreClaims("dep", ssm())
    listings = iter([{}, {1: OTHER}])
    monkeypatch.setattr(racer, "holders", lambda _restore_id: next(listings))
    # When this one tries to create generation 1 too, Then it loses, looks again, and
    # finds a running holder
    with pytest.raises(RestoreAlreadyRunning, match=OTHER):
        racer.claim("r1", ME, lambda arn: arn == OTHER)
