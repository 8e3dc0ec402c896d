"""Every function that adds or removes HSMs may also do what CloudHSM does in EC2 on its
behalf (the "dependent actions" of CreateHsm and DeleteHsm), in its clusters' regions
only: without them CreateHsm is refused in AWS, which the sandbox cannot show."""

from __future__ import annotations

import pytest

from stacks.constructs.hsm_permissions import CREATE_HSM_EC2_ACTIONS
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
