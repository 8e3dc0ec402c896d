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
    ) -> None:
        self.profile = profile
        self.account_id = account_id
        self.rng = rng
        self.settings = settings
        self.quotas = quotas
        self.now = now
        # Re-entrant: fault hooks and snapshots call back into locked code.
        self.lock = threading.RLock()
        self.ids = IdFactory(rng)
        self.ec2 = Ec2Bridge(account_id, rng)
        self.scheduler = Scheduler()
        self.faults = FaultBoard(self.lock, on_hsm_failure)
        self.regions: defaultdict[str, RegionState] = defaultdict(RegionState)
        self.policies: dict[str, str] = {}  # resource ARN -> policy document
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
        """A backup named by id or by full ARN (CreateCluster's SourceBackupId)."""
        if not reference.startswith("arn:"):
            return self.backup(region, reference)
        arn = parse_arn(reference)
        if arn is None or arn.kind != "backup":
            raise CloudHsmInvalidRequestException(f"Invalid backup ARN: {reference}")
        if arn.account_id != self.account_id:
            # A single-account world has no shares: the caller may not use it.
            raise CloudHsmAccessDeniedException(f"You do not have access to backup {reference}")
        if arn.region != region:
            raise CloudHsmInvalidRequestException(
                f"Backup {arn.resource_id} is in {arn.region}, not in {region}"
            )
        return self.backup(region, arn.resource_id)

    def resource(self, region: str, resource_id: str) -> Cluster | Backup:
        """A cluster or backup by id (ListTags, TagResource, UntagResource)."""
        if resource_id.startswith("cluster-"):
            return self.cluster(region, resource_id)
        if resource_id.startswith("backup-"):
            return self.backup(region, resource_id)
        raise CloudHsmInvalidRequestException(f"Invalid resource id: {resource_id}")

    def all_regions(self) -> list[str]:
        return list(self.regions)
