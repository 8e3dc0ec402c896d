"""Deploy a synthesized CloudFormation template into moto, through the ordinary APIs.

The sandbox must run exactly what the CDK app synthesizes. moto's CloudFormation
creates state machines outside the Step Functions backend its interpreter uses, so
this deployer walks the template itself: resources in dependency order, intrinsics
resolved to the physical ids created so far, each resource created with its
service's API. Use it inside an active
`mock_aws(config={"stepfunctions": {"execute_state_machine": True},
"lambda": {"use_docker": False}})`:

    with TemplateDeployer(template).deploy() as deployment:
        deployment.fire_schedule("VerifyBackupsSchedule")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sandbox.deployment import Deployment
from sandbox.intrinsics import IntrinsicResolver, StackEnvironment, TemplateResolutionError
from sandbox.lambda_dispatch import DeployedFunction, SandboxInjectedCrash
from sandbox.message_capture import CapturedMessage, MessageCapture
from sandbox.permissions import bind_client
from sandbox.provisioners import (
    PROVISIONERS,
    ProvisionContext,
    environment_variables,
    function_handler,
)
from sandbox.results import (
    DeployedResource,
    ExecutionResult,
    FireResult,
    InvokeResult,
    SandboxError,
    SandboxLookupError,
    ScheduleInfo,
    SkippedResource,
)
from sandbox.template_graph import creation_order

__all__ = [
    "CapturedMessage",
    "DeployedFunction",
    "DeployedResource",
    "Deployment",
    "DeploymentError",
    "ExecutionResult",
    "FireResult",
    "InvokeResult",
    "SandboxError",
    "SandboxInjectedCrash",
    "SandboxLookupError",
    "ScheduleInfo",
    "SkippedResource",
    "TemplateDeployer",
]

# Present in every CDK template, meaningless in the sandbox: skipped without a note.
_IGNORED_TYPES = frozenset({"AWS::CDK::Metadata"})
_SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"


class DeploymentError(SandboxError):
    """A resource could not be created; the message names it."""


class _AccountContext(ProvisionContext):
    """The deployment's clients call in its account (unless a principal says otherwise)."""

    def client(self, service: str) -> Any:
        return bind_client(super().client(service), self.environment.account_id)


class TemplateDeployer:
    """Deploys one synthesized stack template into `account_id` (every resource is
    created there); `stack_name` only shapes generated names."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        stack_name: str = "SandboxStack",
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self._template = template
        self._environment = StackEnvironment(region, account_id, stack_name)
        self._parameter_overrides = dict(parameters or {})
        self._context: ProvisionContext = _AccountContext(self._environment)
        self._deployed: dict[str, DeployedResource] = {}
        self._skipped: dict[str, SkippedResource] = {}

    def deploy(self) -> Deployment:
        """Create every supported resource; call again only in a fresh moto."""
        _require_active_moto(self._environment.account_id)
        self._context = _AccountContext(self._environment)
        self._deployed, self._skipped = {}, {}
        resources: Mapping[str, Any] = self._template.get("Resources", {})
        resolver = IntrinsicResolver(
            environment=self._environment,
            ref=self._ref,
            get_att=self._get_att,
            parameters=self._parameter_values(),
            mappings=self._template.get("Mappings", {}),
            conditions=self._template.get("Conditions", {}),
        )
        capture = MessageCapture(self._context)
        for logical_id in creation_order(resources):
            resource = resources[logical_id]
            self._deploy_one(logical_id, resource, resolver)
            if logical_id in self._deployed and resource["Type"] == "AWS::SNS::Topic":
                capture.attach(logical_id, self._deployed[logical_id].physical_id)
        return Deployment(
            environment=self._environment,
            resources=self._deployed,
            skipped=self._skipped,
            notes=self._context.notes,
            functions=self._functions(),
            capture=capture,
            context=self._context,
        )

    def _deploy_one(
        self, logical_id: str, resource: Mapping[str, Any], resolver: IntrinsicResolver
    ) -> None:
        resource_type = resource["Type"]
        condition = resource.get("Condition")
        if condition is not None and not resolver.condition_holds(condition):
            self._skip(logical_id, resource_type, f"condition {condition} is false")
            return
        provisioner = PROVISIONERS.get(resource_type)
        if provisioner is None:
            if resource_type not in _IGNORED_TYPES:
                self._skip(logical_id, resource_type, "no sandbox provisioner for this type")
            return
        try:
            properties = resolver.resolve(resource.get("Properties", {}))
            provisioned = provisioner(self._context, logical_id, properties)
        except Exception as error:
            raise DeploymentError(
                f"cannot deploy {logical_id} ({resource_type}): {error}"
            ) from error
        self._deployed[logical_id] = DeployedResource(
            logical_id, resource_type, provisioned.physical_id, provisioned.attributes, properties
        )

    def _skip(self, logical_id: str, resource_type: str, reason: str) -> None:
        self._skipped[logical_id] = SkippedResource(logical_id, resource_type, reason)

    # -- what intrinsics see ---------------------------------------------------------

    def _ref(self, logical_id: str) -> Any:
        if logical_id in self._deployed:
            return self._deployed[logical_id].physical_id
        if logical_id in self._skipped:
            self._context.note(logical_id, "referenced although skipped: placeholder used")
            return f"sandbox-skipped-{logical_id}"
        raise TemplateResolutionError(f"Ref to unknown or not yet created {logical_id!r}")

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self._skipped:
            self._context.note(logical_id, f"{attribute} read although skipped: placeholder used")
            return self._context.arn("sandbox", f"skipped/{logical_id}/{attribute}")
        if logical_id not in self._deployed:
            raise TemplateResolutionError(
                f"Fn::GetAtt on unknown or not yet created {logical_id!r}"
            )
        attributes = self._deployed[logical_id].attributes
        if attribute not in attributes:
            raise TemplateResolutionError(
                f"{logical_id} has no attribute {attribute!r} in the sandbox "
                f"(known: {sorted(attributes)})"
            )
        return attributes[attribute]

    def _parameter_values(self) -> dict[str, Any]:
        """Overrides, else defaults; SSM-typed defaults are read from SSM like CloudFormation."""
        values: dict[str, Any] = {}
        for name, declaration in self._template.get("Parameters", {}).items():
            if name in self._parameter_overrides:
                values[name] = self._parameter_overrides[name]
            elif "Default" in declaration:
                values[name] = self._default_value(name, declaration)
            else:
                raise DeploymentError(f"parameter {name} has no default: pass parameters={{...}}")
        return values

    def _default_value(self, name: str, declaration: Mapping[str, Any]) -> Any:
        default = declaration["Default"]
        if not str(declaration.get("Type", "")).startswith(_SSM_PARAMETER_TYPE_PREFIX):
            return default
        try:
            return self._context.client("ssm").get_parameter(Name=default)["Parameter"]["Value"]
        except Exception:
            # CDK marks its BootstrapVersion "[cdk:skip]": only the ignored Rules read it.
            if "[cdk:skip]" not in str(declaration.get("Description", "")):
                self._context.note(name, f"SSM parameter {default} not found: default used")
            return default

    def _functions(self) -> list[DeployedFunction]:
        return [
            DeployedFunction(
                logical_id=resource.logical_id,
                function_name=resource.physical_id,
                function_arn=resource.attributes["Arn"],
                handler=function_handler(resource.properties),
                runtime=str(resource.properties.get("Runtime", "")),
                environment=environment_variables(resource.properties),
                memory_mb=int(resource.properties.get("MemorySize", 128)),
                timeout_seconds=int(resource.properties.get("Timeout", 3)),
                region=self._environment.region,
                account_id=self._environment.account_id,
                role_arn=str(resource.properties.get("Role") or "") or None,
                security_group_ids=tuple(
                    (resource.properties.get("VpcConfig") or {}).get("SecurityGroupIds", [])
                ),
                subnet_ids=tuple((resource.properties.get("VpcConfig") or {}).get("SubnetIds", [])),
            )
            for resource in self._deployed.values()
            if resource.resource_type == "AWS::Lambda::Function"
        ]


def _require_active_moto(account_id: str) -> None:
    """Never let the deployer talk to a real AWS account, nor deploy into an account
    moto will not serve (MOTO_ACCOUNT_ID pins every call to one account)."""
    from moto.core.models import botocore_stubber

    if not botocore_stubber.enabled:
        raise SandboxError("no active moto mock: deploy inside `with mock_aws(config=...)`")
    pinned = os.environ.get("MOTO_ACCOUNT_ID")
    if pinned is not None and account_id != pinned:
        raise SandboxError(
            f"MOTO_ACCOUNT_ID={pinned} makes moto serve only that account; unset it to "
            f"deploy into {account_id}, or deploy with account_id={pinned!r}"
        )
