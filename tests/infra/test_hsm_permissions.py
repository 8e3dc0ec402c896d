"""Every function that adds or removes HSMs may also do what CloudHSM does in EC2 on its
behalf (the "dependent actions" of CreateHsm and DeleteHsm), in its clusters' regions
only: without them CreateHsm is refused in AWS, which the sandbox cannot show."""

from __future__ import annotations

import pytest

from stacks.constructs.shared.hsm_permissions import CREATE_HSM_EC2_ACTIONS
from tests.conftest import Synthesized
from tests.infra.test_hsm_replacement_stack import role_statements
from tests.infra.test_on_demand_stack import actions

# The Service Authorization Reference's dependent actions of CreateHsm and DeleteHsm.
CREATE_HSM_DEPENDENT = {
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateNetworkInterface",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:RevokeSecurityGroupEgress",
}
DELETE_HSM_DEPENDENT = {"ec2:DeleteNetworkInterface"}


def test_the_shared_list_is_the_reference_list() -> None:
    assert set(CREATE_HSM_EC2_ACTIONS) == CREATE_HSM_DEPENDENT
    assert set(CREATE_HSM_EC2_ACTIONS) >= DELETE_HSM_DEPENDENT


@pytest.mark.parametrize("service", ["on-demand-backup", "replace-hsm", "restore-cluster"])
def test_hsm_changing_functions_get_the_ec2_dependent_actions_in_their_regions(
    synthesized: Synthesized, service: str
) -> None:
    statements = role_statements(synthesized.template, service)
    ec2 = [s for s in statements if any(a.startswith("ec2:") for a in actions(s))]
    granted = set().union(*(actions(s) for s in ec2))
    assert granted >= CREATE_HSM_DEPENDENT
    for statement in ec2:
        if actions(statement) <= {"ec2:DescribeSubnets"}:
            continue  # a read the function makes itself, in any region it checks
        regions = statement["Condition"]["StringEquals"]["aws:RequestedRegion"]
        assert "us-east-1" in regions and all(r.startswith("us-") for r in regions)


@pytest.mark.parametrize(
    "service", ["on-demand-backup", "replace-hsm", "restore-cluster", "dr-drill"]
)
def test_the_ec2_dependent_actions_are_allowed_only_through_cloudhsm(
    synthesized: Synthesized, service: str
) -> None:
    # Granted on "*" for ENIs and groups CloudHSM makes at run time: the role itself
    # must not be able to make those changes (Describe* reads the functions make
    # themselves, such as the recovery subnets' zones, keep their own statements).
    changes = {a for a in CREATE_HSM_DEPENDENT if not a.startswith("ec2:Describe")}
    on_star = [
        s
        for s in role_statements(synthesized.template, service)
        if s["Effect"] == "Allow" and s["Resource"] == "*" and actions(s) & changes
    ]
    assert on_star
    for statement in on_star:
        assert statement["Condition"]["Bool"] == {"aws:ViaAWSService": "true"}


@pytest.mark.parametrize(
    "service", ["on-demand-backup", "replace-hsm", "restore-cluster", "dr-drill"]
)
def test_delete_hsm_is_granted_on_star_in_its_own_statement_without_tag_conditions(
    synthesized: Synthesized, service: str
) -> None:
    # The Service Authorization Reference: DeleteHsm has no resource type and no
    # condition key, so any narrower Resource or tag condition denies every call.
    [statement] = [
        s
        for s in role_statements(synthesized.template, service)
        if "cloudhsm:DeleteHsm" in actions(s) and s["Effect"] == "Allow"
    ]
    assert actions(statement) == {"cloudhsm:DeleteHsm"}
    assert statement["Resource"] == "*"
    assert list(statement["Condition"]) == ["StringEquals"]
    assert list(statement["Condition"]["StringEquals"]) == ["aws:RequestedRegion"]
