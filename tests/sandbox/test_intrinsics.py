"""Intrinsic functions and creation order, on hand-written template fragments (no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.intrinsics import (
    IntrinsicResolver,
    StackEnvironment,
    TemplateResolutionError,
)
from sandbox.template_graph import creation_order

PHYSICAL_IDS = {"Topic": "arn:aws:sns:eu-west-1:111122223333:alerts", "Fn": "verify-fn"}
ATTRIBUTES = {("Fn", "Arn"): "arn:aws:lambda:eu-west-1:111122223333:function:verify-fn"}


def resolver(**sections: Any) -> IntrinsicResolver:
    return IntrinsicResolver(
        environment=StackEnvironment("eu-west-1", "111122223333", "DrStack"),
        ref=PHYSICAL_IDS.__getitem__,
        get_att=lambda logical_id, attribute: ATTRIBUTES[(logical_id, attribute)],
        **sections,
    )


def test_given_sub_string_when_resolved_then_pseudo_params_refs_attributes_and_escapes_apply() -> (
    None
):
    template = "${AWS::Partition}:${AWS::Region}:${Topic}|${Fn.Arn}|${!Literal}|${AWS::StackName}"

    resolved = resolver().resolve({"Fn::Sub": template})

    assert resolved == (
        "aws:eu-west-1:arn:aws:sns:eu-west-1:111122223333:alerts"
        "|arn:aws:lambda:eu-west-1:111122223333:function:verify-fn|${Literal}|DrStack"
    )


def test_given_sub_with_variables_when_resolved_then_local_variables_win() -> None:
    value = {"Fn::Sub": ["${Topic}/${Name}", {"Name": {"Fn::GetAtt": "Fn.Arn"}, "Topic": "mine"}]}

    assert (
        resolver().resolve(value) == "mine/arn:aws:lambda:eu-west-1:111122223333:function:verify-fn"
    )


def test_given_join_of_select_and_split_when_resolved_then_text_is_assembled() -> None:
    value = {
        "Fn::Join": [
            "-",
            [{"Fn::Select": ["1", {"Fn::Split": [":", {"Ref": "Topic"}]}]}, {"Ref": "Fn"}, 7],
        ]
    }

    assert resolver().resolve(value) == "aws-verify-fn-7"


def test_given_find_in_map_and_parameters_when_resolved_then_values_come_from_the_template() -> (
    None
):
    subject = resolver(
        parameters={"Env": "prod"},
        mappings={"Sizes": {"prod": {"Memory": 1024}}},
    )

    assert subject.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}) == 1024
    with pytest.raises(TemplateResolutionError, match="Sizes/dev/Memory"):
        subject.resolve({"Fn::FindInMap": ["Sizes", "dev", "Memory"]})


def test_given_condition_false_when_if_picks_no_value_then_the_property_disappears() -> None:
    subject = resolver(
        conditions={
            "IsUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
            "IsElsewhere": {"Fn::Not": [{"Condition": "IsUsEast1"}]},
        }
    )
    properties = {
        "Kept": {"Fn::If": ["IsElsewhere", "yes", "no"]},
        "Dropped": {"Fn::If": ["IsUsEast1", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsUsEast1", "b", {"Ref": "AWS::NoValue"}]}],
    }

    assert subject.resolve(properties) == {"Kept": "yes", "List": ["a"]}


def test_given_unsupported_function_when_resolved_then_it_fails_loudly() -> None:
    with pytest.raises(TemplateResolutionError, match="Fn::ImportValue is not supported"):
        resolver().resolve({"Fn::ImportValue": "SharedTopicArn"})


def test_given_refs_and_depends_on_when_ordered_then_dependencies_come_first() -> None:
    resources = {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Sub": "${Fn.Arn} ${Topic} ${AWS::Region}"}},
            "DependsOn": "Policy",
        },
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role"}]}},
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}},
        },
        "Role": {"Type": "AWS::IAM::Role"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }

    order = creation_order(resources)

    assert order.index("Role") < order.index("Fn") < order.index("Machine")
    assert order.index("Policy") < order.index("Machine")
    assert order.index("Topic") < order.index("Machine")


def test_given_circular_references_when_ordered_then_the_cycle_is_reported() -> None:
    resources = {
        "A": {"Type": "AWS::SNS::Topic", "Properties": {"X": {"Ref": "B"}}},
        "B": {"Type": "AWS::SNS::Topic", "DependsOn": ["A"]},
    }

    with pytest.raises(TemplateResolutionError, match=r"circular dependency among \['A', 'B'\]"):
        creation_order(resources)
