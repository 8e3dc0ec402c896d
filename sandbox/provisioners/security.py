"""KMS keys and aliases, IAM roles and policies, Secrets Manager secrets."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sandbox.provisioners.context import (
    Properties,
    ProvisionContext,
    Provisioned,
    pick,
    policy_json,
)


def kms_key(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    kms = ctx.client("kms")
    request = pick(props, "Description", "KeyUsage", "KeySpec", "MultiRegion")
    if "KeyPolicy" in props:
        request["Policy"] = policy_json(props["KeyPolicy"])
    if props.get("Tags"):  # CloudFormation tags the key (stack tags included), as IAM sees it
        request["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
    metadata = kms.create_key(**request)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    if props.get("Enabled") is False:
        kms.disable_key(KeyId=metadata["KeyId"])
    return Provisioned(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})


def kms_alias(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    ctx.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Provisioned(props["AliasName"])


def iam_role(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    iam = ctx.client("iam")
    name = props.get("RoleName") or ctx.generated_name(logical_id, 64)
    request = pick(props, "Path", "Description", "MaxSessionDuration", "PermissionsBoundary")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=policy_json(props["AssumeRolePolicyDocument"]),
        **request,
    )["Role"]
    for policy_arn in props.get("ManagedPolicyArns", []):
        try:
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        except ClientError:
            # moto loads AWS managed policies only with config iam.load_aws_managed_policies
            ctx.note(logical_id, f"managed policy {policy_arn} unknown to moto: not attached")
    for policy in props.get("Policies", []):
        _put_role_policy(ctx, logical_id, name, policy["PolicyName"], policy["PolicyDocument"])
    return Provisioned(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})


def iam_policy(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    for role_name in props.get("Roles", []):
        _put_role_policy(ctx, logical_id, role_name, props["PolicyName"], props["PolicyDocument"])
    if props.get("Users") or props.get("Groups"):
        ctx.note(logical_id, "policy attached to roles only (users/groups are not deployed)")
    return Provisioned(props["PolicyName"])


def iam_managed_policy(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    iam = ctx.client("iam")
    name = props.get("ManagedPolicyName") or ctx.generated_name(logical_id, 128)
    request = pick(props, "Path", "Description")
    policy_arn = iam.create_policy(
        PolicyName=name, PolicyDocument=policy_json(props["PolicyDocument"]), **request
    )["Policy"]["Arn"]
    for role_name in props.get("Roles", []):
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    return Provisioned(policy_arn, {"PolicyArn": policy_arn})


def _put_role_policy(
    ctx: ProvisionContext, logical_id: str, role_name: str, policy_name: str, document: Any
) -> None:
    try:
        ctx.client("iam").put_role_policy(
            RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_json(document)
        )
    except ClientError as error:  # policies have no effect in moto: record, don't fail
        ctx.note(logical_id, f"inline policy {policy_name} not stored: {error}")


def ensure_role_exists(ctx: ProvisionContext, logical_id: str, role_arn: str) -> None:
    """Lambda in moto insists its role exists; an imported role gets a stand-in."""
    iam = ctx.client("iam")
    path_and_name = role_arn.split(":role", 1)[-1]
    path, _, name = path_and_name.rpartition("/")
    try:
        iam.get_role(RoleName=name)
    except ClientError:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=name, Path=f"{path}/", AssumeRolePolicyDocument=json.dumps(trust))
        ctx.note(logical_id, f"role {role_arn} is not in the template: created a stand-in")


def secretsmanager_secret(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("Name") or ctx.generated_name(logical_id, 256, prefix="")
    secrets = ctx.client("secretsmanager")
    request = pick(props, "Description", "KmsKeyId")
    secret_string = props.get("SecretString")
    if secret_string is None and "GenerateSecretString" in props:
        secret_string = _generated_secret(secrets, props["GenerateSecretString"])
    if secret_string is not None:
        request["SecretString"] = secret_string
    arn = secrets.create_secret(Name=name, **request)["ARN"]
    return Provisioned(arn, {"Id": arn})


def _generated_secret(secrets: Any, spec: Properties) -> str:
    """GenerateSecretString: a random password, alone or as one key of a JSON template."""
    options = pick(
        spec,
        "PasswordLength",
        "ExcludeCharacters",
        "ExcludeNumbers",
        "ExcludePunctuation",
        "ExcludeUppercase",
        "ExcludeLowercase",
        "IncludeSpace",
        "RequireEachIncludedType",
    )
    password = str(secrets.get_random_password(**options)["RandomPassword"])
    if "SecretStringTemplate" not in spec:
        return password
    document = json.loads(spec["SecretStringTemplate"])
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)
