"""Lambda functions, Step Functions state machines, EventBridge Scheduler schedules."""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache

from botocore.exceptions import ClientError, ParamValidationError

from sandbox.intrinsics import TemplateResolutionError
from sandbox.provisioners.context import (
    Properties,
    ProvisionContext,
    Provisioned,
    lower_camel,
    pick,
    text,
)
from sandbox.provisioners.security import ensure_role_exists


@cache
def placeholder_code() -> bytes:
    """The zip handed to moto: invocations never run it, they are dispatched in-process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sandbox_placeholder.py", "# invoked in-process by sandbox\n")
    return buffer.getvalue()


def environment_variables(props: Properties) -> dict[str, str]:
    """A function's resolved Environment.Variables, as the strings Lambda stores."""
    variables = props.get("Environment", {}).get("Variables", {})
    return {key: text(value) for key, value in variables.items()}


def function_handler(props: Properties) -> str:
    """`Handler`, or for a container image its ImageConfig command (the image's handler)."""
    command = (props.get("ImageConfig") or {}).get("Command") or []
    return str(props.get("Handler") or (command[0] if command else ""))


def lambda_function(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("FunctionName") or ctx.generated_name(logical_id, 64)
    ensure_role_exists(ctx, logical_id, props["Role"])
    request = pick(
        props,
        "Description",
        "Timeout",
        "MemorySize",
        "Architectures",
        "TracingConfig",
        "EphemeralStorage",
    )
    request["Environment"] = {"Variables": environment_variables(props)}
    dropped = sorted(set(props) & {"Layers", "VpcConfig", "DeadLetterConfig", "FileSystemConfigs"})
    if dropped:
        ctx.note(logical_id, f"not applied in the sandbox: {', '.join(dropped)}")
    created = ctx.client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "python3.12"),
        Handler=function_handler(props) or "index.handler",
        Role=props["Role"],
        Code={"ZipFile": placeholder_code()},
        **request,
    )
    return Provisioned(name, {"Arn": created["FunctionArn"]})


def state_machine(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("StateMachineName") or ctx.generated_name(logical_id, 80, prefix="")
    definition = _state_machine_definition(props)
    request: Properties = {
        "name": name,
        "definition": definition,
        "roleArn": props["RoleArn"],
        "type": props.get("StateMachineType", "STANDARD"),
    }
    optional = {
        "loggingConfiguration": lower_camel(props.get("LoggingConfiguration")),
        "tracingConfiguration": lower_camel(props.get("TracingConfiguration")),
    }
    optional = {key: value for key, value in optional.items() if value}
    sfn = ctx.client("stepfunctions")
    try:
        created = sfn.create_state_machine(**request, **optional)
    except (ClientError, ParamValidationError) as error:
        ctx.note(logical_id, f"created without logging/tracing configuration ({error})")
        created = sfn.create_state_machine(**request)
    arn = created["stateMachineArn"]
    return Provisioned(arn, {"Arn": arn, "Name": name})


def _state_machine_definition(props: Properties) -> str:
    if "DefinitionString" in props:
        definition = str(props["DefinitionString"])
    elif "Definition" in props:
        definition = json.dumps(props["Definition"])
    else:
        raise TemplateResolutionError("state machine definition in S3 is not supported")
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + key + "}", text(value))
    return definition


def scheduler_schedule(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("Name") or ctx.generated_name(logical_id, 64)
    request = pick(
        props,
        "GroupName",
        "Description",
        "ScheduleExpressionTimezone",
        "State",
        "KmsKeyArn",
        "ActionAfterCompletion",
    )
    created = ctx.client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=props["ScheduleExpression"],
        FlexibleTimeWindow=props["FlexibleTimeWindow"],
        Target=props["Target"],
        **request,
    )
    return Provisioned(name, {"Arn": created["ScheduleArn"]})


def scheduler_schedule_group(
    ctx: ProvisionContext, logical_id: str, props: Properties
) -> Provisioned:
    name = props.get("Name") or ctx.generated_name(logical_id, 64)
    arn = ctx.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
    return Provisioned(name, {"Arn": arn})
