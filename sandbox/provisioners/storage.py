"""S3 buckets and bucket policies, SSM parameters."""

from __future__ import annotations

from typing import Any

from sandbox.provisioners.context import (
    Properties,
    ProvisionContext,
    Provisioned,
    pick,
    policy_json,
    text,
)


def s3_bucket(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("BucketName") or ctx.generated_name(logical_id, 63).lower()
    s3 = ctx.client("s3")
    region = ctx.environment.region
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if "BucketEncryption" in props:  # what the enforcer reads for the KMS use of objects
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                        **pick(rule, "BucketKeyEnabled"),
                    }
                    for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
        )
    domain = f"{name}.s3.{region}.amazonaws.com"
    return Provisioned(
        name,
        {
            "Arn": f"arn:{ctx.environment.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": domain,
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        },
    )


def s3_bucket_policy(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    document = _without_tls_only_deny(ctx, logical_id, props["PolicyDocument"])
    if document.get("Statement"):
        ctx.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=policy_json(document))
    return Provisioned(ctx.generated_name(logical_id))


def _without_tls_only_deny(
    ctx: ProvisionContext, logical_id: str, document: dict[str, Any]
) -> dict[str, Any]:
    """moto skips the Bool operator, so a TLS-only Deny (aws:SecureTransport false) would
    deny every object request in the sandbox: it is left out, with a note."""
    kept = []
    for statement in document.get("Statement", []):
        secure = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            ctx.note(logical_id, "TLS-only Deny not applied (moto cannot evaluate it)")
            continue
        kept.append(statement)
    return {**document, "Statement": kept}


def ssm_parameter(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    name = props.get("Name") or ctx.generated_name(logical_id, 2048, prefix="CFN")
    request = pick(props, "Description", "Tier", "AllowedPattern", "DataType")
    ctx.client("ssm").put_parameter(
        Name=name, Value=text(props["Value"]), Type=props.get("Type", "String"), **request
    )
    return Provisioned(name, {"Type": props.get("Type", "String"), "Value": props["Value"]})


def dynamodb_table(ctx: ProvisionContext, logical_id: str, props: Properties) -> Provisioned:
    """AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable (TableV2), one region only."""
    name = props.get("TableName") or ctx.generated_name(logical_id, 255)
    client = ctx.client("dynamodb")
    description = client.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        **pick(props, "GlobalSecondaryIndexes", "LocalSecondaryIndexes"),
    )["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    arn = description["TableArn"]
    return Provisioned(name, {"Arn": arn, "StreamArn": description.get("LatestStreamArn", "")})
