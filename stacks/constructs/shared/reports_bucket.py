"""The stack's reports bucket: where the drill, the restore and the HSM replacement write
their JSON report and HTML page, each under a prefix of its own (the workflow's role may
write that prefix alone).

KMS-encrypted with a key of its own (rotated), versioned, TLS-only, private, with server
access logs in a second bucket (SSE-S3: log delivery supports no SSE-KMS). Both are
retained when the stack goes: the reports are the record of past recoveries.

One per stack: the main stack's (the drill's bucket, moved here with the logical ids it
had, so a deployed stack keeps its bucket and reports) and one in each DR-region stack,
which shares nothing with the main stack. `hsmdr` finds it by the SSM parameter
`/hsmdr/<deployment>/reports-bucket` in the stack's region.
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import CfnElement, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.nag import acknowledge, rendered
from stacks.names import reports_bucket_parameter


class ReportsBucket(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment_name: str,
        keep_logical_ids_of: str | None = None,
    ) -> None:
        """`keep_logical_ids_of`: the construct id the bucket used to live under (the main
        stack's "DrDrill"): its resources keep the logical ids they had there."""
        super().__init__(scope, construct_id)
        # Access logs delivered under a bucket policy, not the legacy ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.key = kms.Key(
            self,
            "ReportKey",
            description="cloudhsm-dr: encrypts the drill, restore and replacement reports at rest",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = s3.Bucket(
            self,
            "ReportAccessLogs",
            # Server access log delivery supports SSE-S3 only, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Reports",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="reports/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.parameter = ssm.StringParameter(
            self,
            "BucketName",
            parameter_name=reports_bucket_parameter(deployment_name),
            string_value=self.bucket.bucket_name,
            description="Where the drill, restore and replacement reports are written "
            "(hsmdr report and hsmdr drill report read them)",
        )
        if keep_logical_ids_of is not None:
            self._keep_logical_ids(keep_logical_ids_of)

    def grant_write_reports(self, role: iam.Role, prefix: str) -> None:
        """PutObject under `prefix` only, and a data key of the bucket's key to encrypt
        with: what a workflow needs to write its reports, nothing to read, list or delete."""
        objects = self.bucket.arn_for_objects(f"{prefix}*")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[objects]))
        # SSE-KMS: S3 asks KMS for a data key as the writer; a single PutObject needs
        # nothing else (kms:Encrypt is never called, kms:Decrypt only for multipart).
        role.add_to_policy(
            iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[self.key.key_arn])
        )
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered(self, objects)}]",
            f"Reports are written under {prefix} with the date and execution in the name "
            "(known at run time); nothing else in the bucket.",
        )

    def _keep_logical_ids(self, old_scope: str) -> None:
        """Each resource under this construct gets the logical id CDK gave it under
        `old_scope` (the stack's child whose id that was)."""
        for child in self.node.find_all():
            if not isinstance(child, CfnElement) or child.node.scope is self.parameter:
                continue  # the parameter is new with this construct: no old id to keep
            below = child.node.path.removeprefix(self.node.path + "/").split("/")
            child.override_logical_id(legacy_logical_id([old_scope, *below]))


def legacy_logical_id(components: list[str]) -> str:
    """CDK's logical id of a resource at this construct path below its stack
    (aws-cdk-lib core/lib/private/uniqueid.ts makeUniqueId): the path's ids joined
    without "Resource", then the first 8 hex digits of the path's MD5, upper case."""
    components = [c for c in components if c != "Default"]
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    text = "".join(re.sub("[^A-Za-z0-9]", "", c) for c in human if c != "Resource")
    return text[:240] + digest[:8].upper()
