"""The state every operation works on, and the lookups they share.

``CloudHsmWorld`` (world.py) is the public face; this is the engine room it and the
operation modules share, kept separate so operations need not import the world.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sandbox.emulator import sharing
from sandbox.emulator.errors import (
    CloudHsmAccessDeniedException,
    CloudHsmInvalidRequestException,
    CloudHsmResourceNotFoundException,
)
from sandbox.emulator.faults import FaultBoard
from sandbox.emulator.ids import BACKUP_ID_RE, CLUSTER_ID_RE, IdFactory, parse_arn
from sandbox.emulator.keystore import KeyStore, NoKeyStore
from sandbox.emulator.models import Backup, Cluster, RegionState
from sandbox.emulator.network import Ec2Bridge
from sandbox.emulator.profile import DurationProfile
from sandbox.emulator.scheduler import Scheduler
from sandbox.emulator.settings import Quotas, WorldSettings


class WorldCore:
    def __init__(
        self,
        *,
        profile: DurationProfile,
        account_id: str,
        rng: random.Random,
        settings: WorldSettings,
        quotas: Quotas,
        now: Callable[[], datetime],
        on_hsm_failure: Callable[[str, str | None], None],
        lock: threading.RLock | None = None,
        ids: IdFactory | None = None,
        accounts: dict[str, WorldCore] | None = None,
    ) -> None:
        self.profile = profile
        self.account_id = account_id
        self.rng = rng
        self.settings = settings
        self.quotas = quotas
        self.now = now
        # Re-entrant: fault hooks and snapshots call back into locked code. Accounts of
        # one partition share the lock (a call in one reads another's shared backups)
        # and the id factory (ids are unique across accounts, as the key store needs).
        self.lock = lock if lock is not None else threading.RLock()
        self.ids = ids if ids is not None else IdFactory(rng)
        # Every emulated account of the partition by id, this one included.
        self.accounts: dict[str, WorldCore] = accounts if accounts is not None else {}
        self.accounts[account_id] = self
        self.ec2 = Ec2Bridge(account_id, rng)
        self.scheduler = Scheduler()
        self.faults = FaultBoard(self.lock, on_hsm_failure)
        self.regions: defaultdict[str, RegionState] = defaultdict(RegionState)
        self.policies: dict[str, str] = {}  # resource ARN -> policy document
        # Policy shares promoted to standard RAM shares: only those are listed by
        # DescribeBackups Shared=true in the accounts they are shared with.
        self.promoted_shares: set[str] = set()
        # Backup ARN -> the RAM share its policy created (ram_shares.py).
        self.policy_shares: dict[str, str] = {}
        self.key_store: KeyStore = NoKeyStore()  # where keys live, if emulated (keystore.py)
        # (step, emulated duration) of every transition scheduled, in order
        self.durations_drawn: list[tuple[str, timedelta]] = []

    def duration(self, step: str) -> timedelta:
        """The profile's duration of `step` (a DurationProfile field) with its jitter
        applied; every one drawn is recorded in `durations_drawn`, in emulated time."""
        base: timedelta = getattr(self.profile, step)
        drawn = base
        if self.profile.jitter != 0.0:
            spread = self.rng.uniform(-self.profile.jitter, self.profile.jitter)
            drawn = base * (1.0 + spread)
        self.durations_drawn.append((step, self.profile.emulated(drawn)))
        return drawn

    # -- lookups raising the service's errors ----------------------------------------------
    def cluster(self, region: str, cluster_id: str) -> Cluster:
        if not CLUSTER_ID_RE.match(cluster_id):
            raise CloudHsmInvalidRequestException(f"Invalid cluster id: {cluster_id}")
        found = self.regions[region].clusters.get(cluster_id)
        if found is None:
            raise CloudHsmResourceNotFoundException(f"Cluster {cluster_id} not found")
        return found

    def backup(self, region: str, backup_id: str) -> Backup:
        if not BACKUP_ID_RE.match(backup_id):
            raise CloudHsmInvalidRequestException(f"Invalid backup id: {backup_id}")
        found = self.regions[region].backups.get(backup_id)
        if found is None:
            raise CloudHsmResourceNotFoundException(f"Backup {backup_id} not found")
        return found

    def backup_by_reference(self, region: str, reference: str) -> Backup:
        """A backup named by id or by full ARN (CreateCluster's SourceBackupId). Another
        account's backup is reachable by its ARN only, and only while its resource
        policy lets this account create a cluster from it."""
        if not reference.startswith("arn:"):
            return self.backup(region, reference)
        arn = parse_arn(reference)
        if arn is None or arn.kind != "backup":
            raise CloudHsmInvalidRequestException(f"Invalid backup ARN: {reference}")
        if arn.account_id != self.account_id:
            return self._shared_backup(region, reference, arn.account_id, arn.region)
        if arn.region != region:
            raise CloudHsmInvalidRequestException(
                f"Backup {arn.resource_id} is in {arn.region}, not in {region}"
            )
        return self.backup(region, arn.resource_id)

    def _shared_backup(self, region: str, reference: str, owner_id: str, home: str) -> Backup:
        owner = self.accounts.get(owner_id)
        state = None if owner is None else owner.regions.get(home)
        found = None if state is None else state.backups.get(reference.rsplit("/", 1)[-1])
        policy = None if owner is None or found is None else owner.policies.get(found.arn)
        if found is None or not sharing.allows(
            policy, self.account_id, "cloudhsm:CreateCluster", found.arn
        ):
            # The same answer whether the backup exists or not: nothing leaks.
            raise CloudHsmAccessDeniedException(f"You do not have access to backup {reference}")
        if home != region:
            raise CloudHsmInvalidRequestException(
                f"Backup {found.backup_id} is in {home}, not in {region}"
            )
        return found

    def backups_shared_with_me(self, region: str) -> list[Backup]:
        """Other accounts' backups of `region` whose resource policy lets this account
        describe them and whose share is a standard (promoted) RAM share."""
        shared: list[Backup] = []
        for owner in self.accounts.values():
            if owner is self:
                continue
            for backup in owner.regions[region].backups.values():
                if backup.arn in owner.promoted_shares and sharing.allows(
                    owner.policies.get(backup.arn),
                    self.account_id,
                    "cloudhsm:DescribeBackups",
                    backup.arn,
                ):
                    shared.append(backup)
        return shared

    def resource(self, region: str, resource_id: str) -> Cluster | Backup:
        """A cluster or backup by id (ListTags, TagResource, UntagResource)."""
        if resource_id.startswith("cluster-"):
            return self.cluster(region, resource_id)
        if resource_id.startswith("backup-"):
            return self.backup(region, resource_id)
        raise CloudHsmInvalidRequestException(f"Invalid resource id: {resource_id}")

    def all_regions(self) -> list[str]:
        return list(self.regions)
