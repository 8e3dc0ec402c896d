"""The AWS RAM side of sharing a backup by resource policy.

A policy put on a backup makes a RAM resource share "created from policy" in this
account; the recipient lists the backup (DescribeBackups Shared=true) only once that
share is promoted to a standard one (API_PutResourcePolicy.html). This is the only
module of the share job that calls RAM.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lambdas.shared.errors import CloudHsmDrError

CREATED_FROM_POLICY = "CREATED_FROM_POLICY"
LIVE_ASSOCIATIONS = ("ASSOCIATED", "ASSOCIATING")
DEAD_SHARES = ("DELETED", "DELETING", "FAILED")


class RamShareError(CloudHsmDrError):
    """A RAM call of the share job failed."""


@dataclass(frozen=True)
class RamShare:
    arn: str
    feature_set: str

    @property
    def needs_promotion(self) -> bool:
        return self.feature_set == CREATED_FROM_POLICY


@contextmanager
def _mapped() -> Iterator[None]:
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        info = error.response.get("Error", {})
        raise RamShareError(f"{info.get('Code', '')}: {info.get('Message', '')}") from error


class RamShares:
    """This account's RAM shares of one region."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_region(cls, region: str) -> RamShares:
        import boto3

        return cls(boto3.client("ram", region_name=region))

    def share_of(self, resource_arn: str) -> RamShare | None:
        """The share holding the resource; the one created from its policy first."""
        with _mapped():
            associations = self._client.get_resource_share_associations(
                associationType="RESOURCE", resourceArn=resource_arn
            )["resourceShareAssociations"]
            arns = sorted(
                {
                    str(a["resourceShareArn"])
                    for a in associations
                    if a.get("status", "ASSOCIATED") in LIVE_ASSOCIATIONS
                }
            )
            if not arns:
                return None
            shares = self._client.get_resource_shares(resourceOwner="SELF", resourceShareArns=arns)[
                "resourceShares"
            ]
        # Only the shares asked for (a filter is a request, not a promise), and live ones.
        found = [
            RamShare(str(s["resourceShareArn"]), str(s.get("featureSet", "")))
            for s in shares
            if s["resourceShareArn"] in arns and s.get("status", "ACTIVE") not in DEAD_SHARES
        ]
        found.sort(key=lambda s: not s.needs_promotion)
        return found[0] if found else None

    def promote(self, share_arn: str) -> None:
        with _mapped():
            self._client.promote_resource_share_created_from_policy(resourceShareArn=share_arn)
