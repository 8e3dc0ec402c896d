"""One workflow at a time per cluster: a lock item in DynamoDB.

Forcing a backup and replacing an HSM both add and remove HSMs; two at once on the
same cluster would fight (CloudHSM creates HSMs one at a time) and could delete each
other's work. The lock is a conditional write, so only one holder wins; it expires
on its own, and a holder whose execution is no longer running is taken over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lambdas.shared.errors import ClusterBusy

HolderAlive = Callable[[str], bool]


class ClusterLock:
    def __init__(self, table_name: str, client: Any = None) -> None:
        import boto3

        self._table = table_name
        self._client = client or boto3.client("dynamodb")

    def acquire(
        self,
        cluster_id: str,
        holder: str,
        purpose: str,
        ttl_seconds: int,
        holder_alive: HolderAlive,
    ) -> None:
        """Take the cluster for `holder` or raise ClusterBusy naming who has it."""
        now = int(time.time())
        item = {
            "cluster_id": {"S": cluster_id},
            "holder": {"S": holder},
            "purpose": {"S": purpose},
            "acquired_at": {"N": str(now)},
            "expires_at": {"N": str(now + ttl_seconds)},
        }
        if self._put(
            item,
            "attribute_not_exists(cluster_id) OR expires_at < :now OR holder = :me",
            {":now": {"N": str(now)}, ":me": {"S": holder}},
        ):
            return
        current = self._client.get_item(
            TableName=self._table, Key={"cluster_id": {"S": cluster_id}}, ConsistentRead=True
        ).get("Item")
        if current is None:  # released meanwhile: try once more
            if self._put(item, "attribute_not_exists(cluster_id)", None):
                return
            raise ClusterBusy(f"{cluster_id} was taken by another workflow a moment ago")
        other = current["holder"]["S"]
        if not holder_alive(other) and self._put(item, "holder = :other", {":other": {"S": other}}):
            return
        since = time.strftime(
            "%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(current["acquired_at"]["N"]))
        )
        raise ClusterBusy(
            f"{cluster_id} is busy: {current['purpose']['S']} {other} has held it since "
            f"{since}. Wait for it to finish (or stop it) before starting another."
        )

    @contextmanager
    def held_for_planning(
        self,
        cluster_id: str,
        holder: str,
        purpose: str,
        ttl_seconds: int,
        holder_alive: HolderAlive,
    ) -> Iterator[None]:
        """Lock first (a run in progress is the likeliest reason a cluster looks busy,
        and naming it is the most useful answer), then plan; a plan that is refused or
        fails gives the cluster back, since the workflow then never started."""
        self.acquire(cluster_id, holder, purpose, ttl_seconds, holder_alive)
        try:
            yield
        except Exception:
            self.release(cluster_id, holder)
            raise

    def release(self, cluster_id: str, holder: str) -> None:
        """Give the cluster back, only if `holder` still has it."""
        from botocore.exceptions import ClientError

        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"cluster_id": {"S": cluster_id}},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any] | None) -> bool:
        from botocore.exceptions import ClientError

        params: dict[str, Any] = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": condition,
        }
        if values:
            params["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**params)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
