"""One run of the sharing job: the AWS calls behind the decisions of share.py.

Per region, one listing of its backups, then per group: share the newest READY backup
(PutResourcePolicy, the tag, then the promotion of the RAM share the policy created,
without which the recovery account does not list it), and only once that is done
unshare the older ones.
Before any Put or Delete the backup's policy is read back: a policy this code did not
write is never replaced nor removed (the run reports it instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdas.backups.share import (
    SHARED_WITH_KEY,
    ShareAction,
    ShareDecision,
    is_our_share,
    plan_sharing,
    share_policy,
)
from lambdas.backups.share_ram import RamShareError, RamShares
from lambdas.backups.share_settings import ShareSettings
from lambdas.shared.errors import CloudHsmDrError
from lambdas.shared.gateway import CloudHsmGateway


@dataclass
class ShareResult:
    recovery_account: str
    decisions: list[ShareDecision] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)  # RAM shares made standard
    unshared: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # foreign policies left alone
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "FAILED" if self.errors or self.refused else "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "recovery_account": self.recovery_account,
            "decisions": [d.to_dict() for d in self.decisions],
            "shared": self.shared,
            "promoted": self.promoted,
            "unshared": self.unshared,
            "refused": self.refused,
            "errors": self.errors,
        }


def share_backups(
    settings: ShareSettings,
    gateway_for: Callable[[str], CloudHsmGateway],
    ram_for: Callable[[str], RamShares],
) -> ShareResult:
    result = ShareResult(settings.recovery_account)
    for region in settings.regions():
        cluster_ids = settings.clusters_in(region)
        gateway = gateway_for(region)
        try:
            listed = (
                gateway.iter_backups()
                if region in settings.dr_regions
                else gateway.iter_backups(cluster_ids=cluster_ids)
            )
            decisions = plan_sharing(
                list(listed),
                region=region,
                cluster_ids=cluster_ids,
                account=settings.recovery_account,
            )
        except CloudHsmDrError as error:
            result.errors.append(f"{region}: listing backups: {error}")
            continue
        result.decisions += decisions
        _apply(gateway, ram_for(region), settings.recovery_account, decisions, result)
    return result


def _apply(
    gateway: CloudHsmGateway,
    ram: RamShares,
    account: str,
    decisions: list[ShareDecision],
    result: ShareResult,
) -> None:
    shared_groups: set[str] = set()
    for decision in decisions:
        if decision.action is not ShareAction.SHARE:
            continue
        try:
            if _share(gateway, account, decision, result):
                _promote(ram, decision, result)
                shared_groups.add(decision.cluster_id)
        except CloudHsmDrError as error:
            result.errors.append(f"{decision.backup.backup_id}: sharing: {error}")
    for decision in decisions:
        # The older share goes only once the newer one is in place: the vault always
        # has one to restore from.
        if decision.action is not ShareAction.UNSHARE:
            continue
        if decision.cluster_id not in shared_groups:
            continue
        try:
            _unshare(gateway, account, decision, result)
        except CloudHsmDrError as error:
            result.errors.append(f"{decision.backup.backup_id}: unsharing: {error}")


def _share(
    gateway: CloudHsmGateway, account: str, decision: ShareDecision, result: ShareResult
) -> bool:
    backup = decision.backup
    current = gateway.get_resource_policy(backup.backup_arn)
    if current is not None and not is_our_share(current, backup.backup_arn, account):
        result.refused.append(
            f"{backup.backup_id}: it has a resource policy this job did not write: not "
            "replaced, so not shared with the recovery account"
        )
        return False
    if current is None:
        gateway.put_resource_policy(backup.backup_arn, share_policy(backup.backup_arn, account))
        result.shared.append(backup.backup_id)
    if backup.tags.get(SHARED_WITH_KEY) != account:
        gateway.tag_resource(backup.backup_id, {SHARED_WITH_KEY: account})
    return True


def _promote(ram: RamShares, decision: ShareDecision, result: ShareResult) -> None:
    """The policy's RAM share made standard: only then does the recovery account list
    the backup. A share promoted before needs nothing."""
    backup = decision.backup
    share = ram.share_of(backup.backup_arn)
    if share is None:
        raise RamShareError(f"no RAM share holds {backup.backup_arn} after its policy was put")
    if share.needs_promotion:
        ram.promote(share.arn)
        result.promoted.append(backup.backup_id)


def _unshare(
    gateway: CloudHsmGateway, account: str, decision: ShareDecision, result: ShareResult
) -> None:
    backup = decision.backup
    current = gateway.get_resource_policy(backup.backup_arn)
    if current is not None and not is_our_share(current, backup.backup_arn, account):
        result.refused.append(
            f"{backup.backup_id}: tagged as shared, but its resource policy is not the one "
            "this job writes: left in place"
        )
        return
    if current is not None:
        gateway.delete_resource_policy(backup.backup_arn)
    gateway.untag_resource(backup.backup_id, [SHARED_WITH_KEY])
    result.unshared.append(backup.backup_id)
