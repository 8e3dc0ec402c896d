"""Synthesized templates as the static gates read them: every intrinsic resolved to a
plain value, with ARN-shaped placeholders for the resources the template creates.

The IAM gate compares a policy's Resource with the ARN formats of the Service
Authorization Reference, so a `Fn::GetAtt [Queue, Arn]` must become an SQS queue ARN
and a `Ref` to a topic a topic ARN, exactly as CloudFormation would return them. The
placeholders keep each resource type's shape (service, resource type segment, name);
only the names and ids are made up. A type or attribute missing below fails loudly, so
a new kind of resource cannot slip through as an unchecked string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sandbox.intrinsics import IntrinsicResolver, StackEnvironment, TemplateResolutionError

PLACEHOLDER_ACCOUNT = "123456789012"

# Per resource type: what Ref returns, then each attribute Fn::GetAtt may ask for, as
# formats over {partition} {region} {account} {name} {id} (CloudFormation's return
# values, from each resource type's reference page).
_SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "AWS::SNS::Topic": (
        "arn:{partition}:sns:{region}:{account}:{name}",
        {"TopicArn": "arn:{partition}:sns:{region}:{account}:{name}", "TopicName": "{name}"},
    ),
    "AWS::SNS::Subscription": (
        "arn:{partition}:sns:{region}:{account}:{name}:{id}",
        {"Arn": "arn:{partition}:sns:{region}:{account}:{name}:{id}"},
    ),
    "AWS::SQS::Queue": (
        "https://sqs.{region}.amazonaws.com/{account}/{name}",
        {
            "Arn": "arn:{partition}:sqs:{region}:{account}:{name}",
            "QueueName": "{name}",
            "QueueUrl": "https://sqs.{region}.amazonaws.com/{account}/{name}",
        },
    ),
    "AWS::KMS::Key": (
        "{id}",
        {"Arn": "arn:{partition}:kms:{region}:{account}:key/{id}", "KeyId": "{id}"},
    ),
    "AWS::DynamoDB::GlobalTable": (
        "{name}",
        {
            "Arn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
            "StreamArn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}/stream/x",
            "TableId": "{id}",
        },
    ),
    "AWS::DynamoDB::Table": (
        "{name}",
        {
            "Arn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
            "StreamArn": "arn:{partition}:dynamodb:{region}:{account}:table/{name}/stream/x",
        },
    ),
    "AWS::Lambda::Function": (
        "{name}",
        {"Arn": "arn:{partition}:lambda:{region}:{account}:function:{name}"},
    ),
    "AWS::StepFunctions::StateMachine": (
        "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
        {
            "Arn": "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
            "Name": "{name}",
        },
    ),
    "AWS::S3::Bucket": (
        "{name}",
        {
            "Arn": "arn:{partition}:s3:::{name}",
            "DomainName": "{name}.s3.amazonaws.com",
            "RegionalDomainName": "{name}.s3.{region}.amazonaws.com",
        },
    ),
    "AWS::Logs::LogGroup": (
        "{name}",
        {"Arn": "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"},
    ),
    "AWS::SSM::Parameter": ("{name}", {"Type": "String", "Value": "placeholder"}),
    "AWS::IAM::Role": (
        "{name}",
        {"Arn": "arn:{partition}:iam::{account}:role/{name}", "RoleId": "AROA{id}"},
    ),
    "AWS::IAM::ManagedPolicy": (
        "arn:{partition}:iam::{account}:policy/{name}",
        {"PolicyArn": "arn:{partition}:iam::{account}:policy/{name}"},
    ),
    "AWS::IAM::Policy": ("{id}", {"Id": "{id}"}),
    "AWS::Events::Rule": (
        "{name}",
        {"Arn": "arn:{partition}:events:{region}:{account}:rule/{name}"},
    ),
    "AWS::Scheduler::Schedule": (
        "{name}",
        {"Arn": "arn:{partition}:scheduler:{region}:{account}:schedule/default/{name}"},
    ),
    "AWS::CloudWatch::Alarm": (
        "{name}",
        {"Arn": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"},
    ),
    "AWS::EC2::SecurityGroup": ("sg-0{id}", {"GroupId": "sg-0{id}", "VpcId": "vpc-0{id}"}),
}

# The property that names each resource, when the template sets it as a plain string.
_NAME_PROPERTIES = (
    "TopicName",
    "QueueName",
    "TableName",
    "FunctionName",
    "StateMachineName",
    "BucketName",
    "LogGroupName",
    "RoleName",
    "ManagedPolicyName",
    "AlarmName",
    "Name",
)


@dataclass(frozen=True)
class StackTemplate:
    """One synthesized stack: where it deploys and its template."""

    config: str  # the config file it was synthesized from, e.g. "example"
    stack: str
    region: str
    account: str
    template: dict[str, Any]

    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources

    def of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources().items():
            if resource.get("Type") in types:
                yield logical_id, resource


def placeholder_resolver(stack: StackTemplate) -> IntrinsicResolver:
    """An intrinsic resolver that gives every resource of `stack` a placeholder of its
    type's shape; pseudo parameters take the stack's region and account."""
    environment = StackEnvironment(
        region=stack.region, account_id=stack.account, stack_name=stack.stack
    )
    resources = stack.resources()

    def shaped(logical_id: str, attribute: str | None) -> str:
        resource = resources.get(logical_id)
        if resource is None:
            raise TemplateResolutionError(f"{logical_id} is not a resource of {stack.stack}")
        kind = resource["Type"]
        if kind not in _SHAPES:
            raise TemplateResolutionError(f"no placeholder for {kind} ({logical_id}): add one")
        ref_format, attributes = _SHAPES[kind]
        if attribute is None:
            text = ref_format
        elif attribute in attributes:
            text = attributes[attribute]
        else:
            raise TemplateResolutionError(f"no placeholder for {kind}.{attribute} ({logical_id})")
        return text.format(
            partition=environment.partition,
            region=stack.region,
            account=stack.account,
            name=_name(logical_id, resource),
            id=_placeholder_id(logical_id),
        )

    parameters = {
        name: spec.get("Default", f"placeholder-{name}")
        for name, spec in stack.template.get("Parameters", {}).items()
    }
    return IntrinsicResolver(
        environment=environment,
        ref=lambda logical_id: shaped(logical_id, None),
        get_att=shaped,
        parameters=parameters,
        mappings=stack.template.get("Mappings", {}),
        conditions=stack.template.get("Conditions", {}),
    )


def _name(logical_id: str, resource: dict[str, Any]) -> str:
    properties = resource.get("Properties", {})
    for key in _NAME_PROPERTIES:
        if isinstance(properties.get(key), str):
            return str(properties[key])
    return logical_id.lower()


def _placeholder_id(logical_id: str) -> str:
    # A stable id per resource, in the lowercase hex most AWS ids use.
    digits = "".join(f"{ord(c):x}" for c in re.sub(r"[^A-Za-z0-9]", "", logical_id))
    return (digits + "0" * 16)[:16]
