"""What the sandbox's services hold that authorization needs: a role's policies, a
resource's policy, tags and encryption key. Read from moto's and the emulator's state
directly, so looking them up is not itself an API call to authorize."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.emulator import CloudHsmWorld

Policy = Mapping[str, Any]


@dataclass(frozen=True)
class KeyFacts:
    arn: str
    policy: Policy


def _json(text: Any) -> Policy | None:
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    return json.loads(text) if isinstance(text, str) else dict(text)


class ResourceFacts:
    """`account` is the deployment's; a resource named by ARN is read in the ARN's
    account, a role in its own, and CloudHSM state in the world of that account."""

    def __init__(self, account: str, world: CloudHsmWorld | None) -> None:
        self.account = account
        self.world = world

    # -- identities ------------------------------------------------------------------

    def identity_policies(self, role_arn: str) -> list[Policy]:
        from moto.iam.models import iam_backends

        account = role_arn.split(":")[4] or self.account
        role = iam_backends[account]["aws"].get_role(role_arn.rsplit("/", 1)[-1])
        policies = [
            json.loads(doc) if isinstance(doc, str) else doc for doc in role.policies.values()
        ]
        for managed in role.managed_policies.values():
            document = next(
                v.document for v in managed.versions if v.version_id == managed.default_version_id
            )
            policies.append(json.loads(document) if isinstance(document, str) else document)
        return policies

    # -- resource policies -----------------------------------------------------------

    def resource_policy(self, service: str, arn: str, region: str) -> Policy | None:
        reader = {
            "sns": self._topic_policy,
            "sqs": self._queue_policy,
            "s3": self._bucket_policy,
            "lambda": self._function_policy,
            "cloudhsm": self._backup_policy,
        }.get(service)
        return reader(arn, region) if reader else None

    def _topic_policy(self, arn: str, region: str) -> Policy | None:
        topic = self._topic(arn)
        return None if topic is None else _json(topic.policy)

    def _topic(self, arn: str) -> Any:
        from moto.sns.models import sns_backends

        parts = arn.split(":")
        return sns_backends[parts[4]][parts[3]].topics.get(arn)

    def _queue(self, arn: str) -> Any:
        from moto.sqs.models import sqs_backends

        parts = arn.split(":")
        return sqs_backends[parts[4]][parts[3]].queues.get(parts[5])

    def _queue_policy(self, arn: str, region: str) -> Policy | None:
        queue = self._queue(arn)
        return None if queue is None else _json(queue.policy)

    def _bucket(self, arn: str) -> Any:
        from moto.s3.models import s3_backends

        name = arn.split(":::", 1)[-1].split("/", 1)[0]
        # Bucket names are global and an S3 ARN names no account: the bucket is its
        # owner's, whichever account (the recovery account's vault stack's included).
        partition, owner = s3_backends.bucket_accounts.get(name, ("aws", self.account))
        return s3_backends[owner][partition].buckets.get(name)

    def _bucket_policy(self, arn: str, region: str) -> Policy | None:
        bucket = self._bucket(arn)
        return None if bucket is None else _json(bucket.policy)

    def _function_policy(self, arn: str, region: str) -> Policy | None:
        from moto.awslambda.utils import get_backend

        parts = arn.split(":")
        try:
            function = get_backend(parts[4], parts[3]).get_function(parts[6])
        except Exception:  # not found: Lambda answers that itself
            return None
        if not function.policy.statements:
            return None
        return {"Version": "2012-10-17", "Statement": list(function.policy.statements)}

    def _backup_policy(self, arn: str, region: str) -> Policy | None:
        world = self._world_of(arn)
        if world is None or ":backup/" not in arn:
            return None
        return _json(world.resource_policy(arn))

    def _world_of(self, arn: str) -> CloudHsmWorld | None:
        """The emulated account's world that holds the CloudHSM resource `arn`."""
        if self.world is None:
            return None
        return self.world.worlds.get(arn.split(":")[4], None)

    # -- tags ------------------------------------------------------------------------

    def resource_tags(self, service: str, arn: str) -> dict[str, str]:
        if service == "cloudhsm" and self.world is not None:
            return self._cloudhsm_tags(arn)
        if service == "ec2" and ":security-group/" in arn:
            return self._security_group_tags(arn)
        if service == "kms" and ":key/" in arn:
            return self._key_tags(arn)
        return {}

    def _cloudhsm_tags(self, arn: str) -> dict[str, str]:
        world = self._world_of(arn)
        if world is None:
            return {}
        resource_id = arn.rsplit("/", 1)[-1]
        try:
            found = (
                world.backup(resource_id)
                if resource_id.startswith("backup-")
                else world.cluster(resource_id)
            )
        except KeyError:
            return {}
        return {t["Key"]: t["Value"] for t in found.get("TagList", [])}

    def _security_group_tags(self, arn: str) -> dict[str, str]:
        from moto.ec2.models import ec2_backends

        parts = arn.split(":")
        group_id = parts[5].split("/", 1)[1]
        return dict(ec2_backends[parts[4]][parts[3]].tags.get(group_id, {}))

    def _key_tags(self, arn: str) -> dict[str, str]:
        """A KMS key's tags (KMS evaluates aws:ResourceTag on its keys)."""
        from moto.kms.models import kms_backends

        parts = arn.split(":")
        backend = kms_backends[parts[4]][parts[3]]
        key_id = parts[5].split("/", 1)[1]
        if key_id not in backend.keys:
            return {}
        tags = backend.list_resource_tags(key_id).get("Tags", [])
        return {t["TagKey"]: t["TagValue"] for t in tags}

    # -- encryption keys -------------------------------------------------------------

    def encryption_key(self, service: str, arn: str, region: str) -> str | None:
        """The KMS key (id, alias or ARN as configured) that encrypts the resource."""
        if service == "sns":
            topic = self._topic(arn)
            return (topic.kms_master_key_id or None) if topic is not None else None
        if service == "sqs":
            queue = self._queue(arn)
            return getattr(queue, "kms_master_key_id", None) if queue is not None else None
        if service == "s3":
            return self._bucket_key(arn)
        return None

    def _bucket_key(self, arn: str) -> str | None:
        bucket = self._bucket(arn)
        encryption = getattr(bucket, "encryption", None) if bucket is not None else None
        if not encryption:
            return None
        rules = encryption.get("Rule", encryption.get("Rules", [])) or []
        # S3 keeps the configuration as parsed from XML: one rule is a dict, not a list.
        for rule in [rules] if isinstance(rules, dict) else rules:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return default.get("KMSMasterKeyID") or "alias/aws/s3"
        return None

    def parameter_key(self, arn: str) -> str | None:
        from moto.ssm.models import ssm_backends

        parts = arn.split(":")
        name = "/" + parts[5].split("/", 1)[1]
        backend = ssm_backends[parts[4]][parts[3]]
        for candidate in (name, name.lstrip("/")):
            versions = backend._parameters.get(candidate)
            if versions:
                latest = versions[-1]
                if latest.parameter_type == "SecureString":
                    return latest.keyid or "alias/aws/ssm"
                return None
        return None

    def secret(
        self, secret_id: str, region: str, account: str | None = None
    ) -> tuple[str, str | None] | None:
        """(full ARN, KMS key or None for the AWS-managed key) of a secret; a name is
        looked up in `account` (default: the deployment's)."""
        from moto.secretsmanager.models import secretsmanager_backends

        if secret_id.startswith("arn:"):
            account = secret_id.split(":")[4]
        account = account or self.account
        backend = secretsmanager_backends[account][region]
        for secret in backend.secrets.values():
            if secret_id in (secret.arn, secret.name) or secret.arn.startswith(secret_id):
                return secret.arn, getattr(secret, "kms_key_id", None)
        return None

    def key(self, key_id: str, region: str, account: str | None = None) -> KeyFacts | None:
        """A customer key's ARN and policy; an AWS-managed key (alias/aws/...) with the
        fixed policy AWS gives it: any principal of the account, through its service.
        A key id or alias is looked up in `account` (default: the deployment's)."""
        from moto.kms.models import kms_backends

        account = account or self.account
        if key_id.startswith("arn:"):
            account = key_id.split(":")[4] or account
        if key_id.startswith("arn:") and ":alias/" in key_id:
            region = key_id.split(":")[3]
            key_id = key_id.split(":", 5)[5]
        if key_id.startswith("alias/aws/"):
            service = key_id.removeprefix("alias/aws/")
            return KeyFacts(  # a stand-in key id: moto holds no AWS-managed keys
                f"arn:aws:kms:{region}:{account}:key/aws-managed-{service}",
                aws_managed_key_policy(account, region, service),
            )
        if key_id.startswith("arn:"):
            region = key_id.split(":")[3]
        backend = kms_backends[account][region]
        try:
            key = backend.keys[backend.any_id_to_key_id(key_id)]
        except Exception:
            return None
        return KeyFacts(key.arn, json.loads(key.policy))


def aws_managed_key_policy(account: str, region: str, service: str) -> Policy:
    """The key policy of `alias/aws/<service>` (it cannot be changed): usable by the
    account's principals through that service only, never by a service principal."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"{service}.{region}.amazonaws.com",
                    }
                },
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }
