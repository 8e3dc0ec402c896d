"""CloudHsmWorld: one emulated AWS account's CloudHSM, across regions.

The world owns the state, the lock and the lazy clock-driven lifecycle; the moto
plug-in (moto_plugin.install) routes boto3 calls to ``handle``. Tests also use the
world directly: seed pre-existing state, inject faults, age everything with
``time_travel``, wait for transitions with ``settle`` and read snapshots.

Several accounts: ``world.add_account(account_id)`` makes the world of another account
of the same partition (one clock, one lock, one id factory, one key store), where
backups shared with it can be described and restored. The moto plug-in routes each
call to the world of the caller's account (``for_caller``).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sandbox.emulator import lifecycle, ops_clusters, ops_hsms, ram_shares, validation
from sandbox.emulator.clock import utc_now
from sandbox.emulator.core import WorldCore
from sandbox.emulator.errors import (
    CloudHsmInternalFailureException,
    CloudHsmInvalidRequestException,
    ThrottlingException,
)
from sandbox.emulator.faults import FaultBoard
from sandbox.emulator.ids import CLUSTER_ID_RE
from sandbox.emulator.keystore import KeyStore
from sandbox.emulator.models import (
    HSM_TYPES,
    MODES,
    Backup,
    BackupState,
    Cluster,
    ClusterState,
    HsmState,
    shift_datetimes,
)
from sandbox.emulator.operations import OPERATIONS
from sandbox.emulator.profile import PROFILES, DurationProfile
from sandbox.emulator.settings import Quotas, WorldSettings

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
_SETTLE_POLL_SECONDS = 0.5


class CloudHsmWorld:
    _core: WorldCore

    def __init__(
        self,
        profile: DurationProfile = PROFILES["demo"],
        account_id: str = DEFAULT_ACCOUNT_ID,
        rng_seed: int | None = None,
        *,
        settings: WorldSettings | None = None,
        quotas: Quotas | None = None,
        now: Callable[[], datetime] = utc_now,
        _home: CloudHsmWorld | None = None,
    ) -> None:
        home: WorldCore | None = None if _home is None else _home._core
        self._core = WorldCore(
            profile=profile,
            account_id=account_id,
            rng=random.Random(rng_seed) if home is None else home.rng,
            settings=settings or WorldSettings(),
            quotas=quotas or Quotas(),
            now=now,
            on_hsm_failure=self._fail_hsm,
            lock=None if home is None else home.lock,
            ids=None if home is None else home.ids,
            accounts=None if home is None else home.accounts,
        )
        # The worlds of every account of the partition, this one included (shared).
        self._worlds: dict[str, CloudHsmWorld] = {} if _home is None else _home._worlds
        self._worlds[account_id] = self
        if home is not None:
            self._core.key_store = home.key_store
        # Every request received, by operation (throttled and failed ones included), so
        # benchmarks can count the calls a workflow makes.
        self.api_calls: Counter[str] = Counter()

    # -- configuration --------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        return self._core.account_id

    @property
    def profile(self) -> DurationProfile:
        return self._core.profile

    @profile.setter
    def profile(self, profile: DurationProfile) -> None:
        with self._core.lock:
            self._core.profile = profile

    # -- accounts ---------------------------------------------------------------------
    @property
    def worlds(self) -> dict[str, CloudHsmWorld]:
        """Every account's world of this partition, by account id (a copy)."""
        with self._core.lock:
            return dict(self._worlds)

    def add_account(self, account_id: str, *, quotas: Quotas | None = None) -> CloudHsmWorld:
        """The world of another account beside this one: same clock, profile, settings
        and key store; its own clusters, backups, quotas and faults."""
        if not (len(account_id) == 12 and account_id.isdigit()):
            raise ValueError(f"account_id must be 12 digits, got {account_id!r}")
        with self._core.lock:
            if account_id in self._worlds:
                raise ValueError(f"account {account_id} already has a world")
            return CloudHsmWorld(
                profile=self._core.profile,
                account_id=account_id,
                settings=self._core.settings,
                quotas=quotas or dataclasses.replace(self._core.quotas),
                now=self._core.now,
                _home=self,
            )

    def for_caller(self, account_id: str) -> CloudHsmWorld:
        """The world that serves a call made with credentials of `account_id`. A world
        alone in its partition serves every caller (as a one-account sandbox always
        did); once there are several, an account without a world gets an empty one,
        as every AWS account has a CloudHSM with nothing in it."""
        with self._core.lock:
            if account_id in self._worlds:
                return self._worlds[account_id]
            if len(self._worlds) == 1:
                return self
            return self.add_account(account_id)

    def promote_policy_share(self, backup_arn: str) -> None:
        """What RAM's PromoteResourceShareCreatedFromPolicy does to the share made from
        the backup's policy (ram_shares.py), without looking the share up: DescribeBackups
        Shared=true then lists the backup in the accounts the policy names."""
        with self._core.lock:
            ram_shares.promote_backup(self._core, backup_arn)

    def promote_resource_share(self, region: str, share_arn: str) -> list[str]:
        """RAM's PromoteResourceShareCreatedFromPolicy on a share of this account (the
        moto plug-in's RAM route): the backup ARNs now listed as shared."""
        with self._core.lock:
            return ram_shares.promote(self._core, region, share_arn)

    def emulated_durations(self) -> list[tuple[str, timedelta]]:
        """(profile step, emulated duration) of every transition scheduled so far, in
        order: the profile's durations, jitter drawn from the seeded generator, whatever
        the compression (so a test asserts on them, never on wall time)."""
        with self._core.lock:
            return list(self._core.durations_drawn)

    @property
    def settings(self) -> WorldSettings:
        return self._core.settings

    @property
    def quotas(self) -> Quotas:
        return self._core.quotas

    @property
    def faults(self) -> FaultBoard:
        return self._core.faults

    @property
    def key_store(self) -> KeyStore:
        """Where clusters' keys live (keystore.py); by default nowhere."""
        return self._core.key_store

    @key_store.setter
    def key_store(self, store: KeyStore) -> None:
        """Set for every account of the partition: a cluster restored from a shared
        backup gets the owner's keys."""
        with self._core.lock:
            for core in self._core.accounts.values():
                core.key_store = store

    # -- the API --------------------------------------------------------------------------
    def handle(self, operation: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Serve one API call; raises a CloudHsmError subclass on failure."""
        with self._core.lock:
            self.api_calls[operation] += 1
            handler = OPERATIONS.get(operation)
            if handler is None:
                raise CloudHsmInvalidRequestException(f"Unknown operation {operation}")
            if self.faults.take_throttle(operation):
                raise ThrottlingException("Rate exceeded")
            self._tick()
            if self.faults.take_internal_failure(operation):
                raise CloudHsmInternalFailureException(
                    "The request was rejected because of an AWS CloudHSM internal failure. "
                    "The request can be retried."
                )
            return handler(self._core, region, dict(params))

    # -- time -----------------------------------------------------------------------------
    def _tick(self) -> None:
        # Every account of the partition: a call may read another's shared backups.
        now = self._core.now()
        for core in list(self._core.accounts.values()):
            core.scheduler.run_due(now)
            lifecycle.sweep(core, now)

    def time_travel(self, delta: timedelta) -> None:
        """Age everything by ``delta`` as if that much time had passed: every stored
        timestamp and pending due time moves back, then lifecycles catch up."""
        if delta < timedelta(0):
            raise ValueError("time only travels forward")
        with self._core.lock:
            self._tick()
            for core in self._core.accounts.values():  # one clock for every account
                for state in core.regions.values():
                    for cluster in state.clusters.values():
                        shift_datetimes(cluster, delta)
                        for hsm in cluster.hsms.values():
                            shift_datetimes(hsm, delta)
                    for backup in state.backups.values():
                        shift_datetimes(backup, delta)
                core.scheduler.shift(delta)
            self._tick()

    def settle(self, timeout: float = 30.0) -> None:
        """Wait (real time) until no entity is in a transitional state that will change.

        Entities that will never change on their own (a backup stuck by the
        ``backup-stuck`` fault) and the recurring daily-backup timer are not waited for.
        Every account of the partition is waited for.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._core.lock:
                self._tick()
                dues = [
                    core.scheduler.next_due(include_recurring=False)
                    for core in self._core.accounts.values()
                ]
                next_due = min((d for d in dues if d is not None), default=None)
                now = self._core.now()
            if next_due is None:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pending = [label for _, label in self.pending()]
                raise TimeoutError(f"world not settled after {timeout}s; pending: {pending}")
            wait = max((next_due - now).total_seconds(), 0.001)
            time.sleep(min(wait, remaining, _SETTLE_POLL_SECONDS))

    def pending(self) -> list[tuple[datetime, str]]:
        """Scheduled transitions (due time, description) of every account, soonest first."""
        with self._core.lock:
            found = [
                (t.due, t.label)
                for core in self._core.accounts.values()
                for t in core.scheduler.pending()
            ]
            return sorted(found, key=lambda item: item[0])

    def next_change_in(self) -> timedelta | None:
        """How long until the soonest scheduled transition of any account (negative when
        it is due and fires at the next call); None when nothing is pending."""
        pending = self.pending()
        if not pending:
            return None
        with self._core.lock:
            return pending[0][0] - self._core.now()

    # -- out-of-band actions ------------------------------------------------------------------
    def activate_cluster(self, cluster_id: str) -> None:
        """The operator's CLI activation, for worlds with settings.auto_activate off."""
        with self._core.lock:
            self._tick()
            region, cluster = self._find_cluster(cluster_id)
            if cluster.state != ClusterState.INITIALIZED or not cluster.active_hsms():
                raise ValueError(f"{cluster_id} must be INITIALIZED with an ACTIVE HSM")
            lifecycle.activate(self._core, region, cluster, self._core.now())

    def _fail_hsm(self, cluster_id: str, hsm_id: str | None) -> None:
        with self._core.lock:
            self._tick()
            lifecycle.fail_hsm(self._core, cluster_id, hsm_id)

    # -- seeding --------------------------------------------------------------------------
    def seed_cluster(
        self,
        region: str,
        subnet_ids: Iterable[str],
        *,
        cluster_id: str | None = None,
        hsms_per_subnet: int = 1,
        hsm_type: str = "hsm2m.medium",
        mode: str = "FIPS",
        backup_ages: Iterable[timedelta] = (),
        retention_days: int = 90,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create pre-existing state directly (not an API call): an INITIALIZED then
        ACTIVE cluster with ACTIVE HSMs, its security group and READY backups made
        ``backup_ages`` ago. Subnets must exist in moto's EC2 backend. Retention applies
        to the seeded backups at once; daily backups resume after the newest one."""
        core = self._core
        if hsm_type not in HSM_TYPES or mode not in MODES:
            raise ValueError(f"hsm_type must be one of {HSM_TYPES}, mode one of {MODES}")
        validation.retention_days({"Type": "DAYS", "Value": str(retention_days)})
        with core.lock:
            self._tick()
            if cluster_id is None:
                cluster_id = core.ids.cluster_id()
            elif not CLUSTER_ID_RE.match(cluster_id) or self._known_cluster(cluster_id):
                raise ValueError(f"invalid or already used cluster id {cluster_id!r}")
            core.ids.reserve(cluster_id)
            vpc_id, mapping = ops_clusters.resolve_subnets(core, region, list(subnet_ids))
            now = core.now()
            ages = sorted(backup_ages, reverse=True)  # oldest first
            created = now - max(
                ages[0] + timedelta(hours=1) if ages else timedelta(0), timedelta(days=1)
            )
            cluster = ops_clusters.new_cluster(
                core,
                region,
                cluster_id=cluster_id,
                hsm_type=hsm_type,
                mode=mode,
                network_type="IPV4",
                vpc_id=vpc_id,
                mapping=mapping,
                retention=retention_days,
                tags=dict(tags or {}),
                created=created,
                source=None,
                state=ClusterState.ACTIVE,
            )
            first_hsm = f"seed-{cluster_id}"
            cluster.certificates = {
                **lifecycle.hardware_certificates(first_hsm),
                "ClusterCsr": lifecycle.fake_pem("CERTIFICATE REQUEST", f"csr:{cluster_id}"),
                "ClusterCertificate": lifecycle.fake_pem("CERTIFICATE", f"cluster:{cluster_id}"),
            }
            cluster.trust_anchor = lifecycle.fake_pem("CERTIFICATE", f"ca:{cluster_id}")
            core.key_store.cluster_seeded(cluster_id)
            for zone in mapping:
                for _ in range(hsms_per_subnet):
                    ops_hsms.place_hsm(
                        core,
                        region,
                        cluster,
                        zone,
                        requested_ip=None,
                        state=HsmState.ACTIVE,
                        created_at=created,
                    )
            last_backup = created
            for age in ages:
                made = now - age
                backup = Backup(
                    backup_id=core.ids.backup_id(),
                    region=region,
                    account_id=core.account_id,
                    state=BackupState.READY,
                    cluster_id=cluster_id,
                    create_timestamp=made,
                    hsm_type=hsm_type,
                    mode=mode,
                    certificates={"ClusterCertificate": cluster.certificates["ClusterCertificate"]},
                    ready_at=min(made + core.profile.backup_create, now),
                )
                core.regions[region].backups[backup.backup_id] = backup
                core.key_store.backup_taken(cluster_id, backup.backup_id)
                last_backup = max(last_backup, made)
            # The seeded history is taken as given: no daily backups are invented between
            # or after the seeded ones. The next one keeps the newest one's daily cadence,
            # skipping the slots already past.
            interval = core.settings.daily_backup_interval
            next_daily = last_backup + interval
            if next_daily <= now:
                next_daily += interval * ((now - next_daily) // interval + 1)
            cluster.daily_generation += 1
            lifecycle.schedule_daily(core, region, cluster, next_daily)
            self._tick()
            return cluster_id

    def seed_copy(
        self,
        backup_id: str,
        destination_region: str,
        *,
        tags: Mapping[str, str] | None = None,
        copied_after: timedelta = timedelta(minutes=10),
    ) -> str:
        """A READY copy of an existing backup in another region, as an earlier copy run
        left it (pre-existing state, not an API call): the source's CreateTimestamp, a
        CopyTimestamp ``copied_after`` the source was made (never in the future)."""
        core = self._core
        with core.lock:
            self._tick()
            source = next(
                (s.backups[backup_id] for s in core.regions.values() if backup_id in s.backups),
                None,
            )
            if source is None or source.state != BackupState.READY:
                raise ValueError(f"{backup_id} is not a READY backup of this world")
            if destination_region == source.region:
                raise ValueError("a copy goes to another region than its source's")
            copied = min(source.create_timestamp + copied_after, core.now())
            copy = Backup(
                backup_id=core.ids.backup_id(),
                region=destination_region,
                account_id=core.account_id,
                state=BackupState.READY,
                cluster_id=None,
                create_timestamp=source.create_timestamp,
                hsm_type=source.hsm_type,
                mode=source.mode,
                copy_timestamp=copied,
                source_region=source.region,
                source_backup=source.backup_id,
                source_cluster=source.cluster_id or source.source_cluster,
                tags=dict(tags or {}),
                certificates=dict(source.certificates),
                ready_at=copied,
            )
            core.regions[destination_region].backups[copy.backup_id] = copy
            core.key_store.backup_copied(backup_id, copy.backup_id)
            return copy.backup_id

    # -- read-only snapshots (API-shaped dicts with datetime values) --------------------------
    def cluster(self, cluster_id: str) -> dict[str, Any]:
        with self._core.lock:
            self._tick()
            return self._find_cluster(cluster_id)[1].to_api()

    def clusters(self, region: str) -> list[dict[str, Any]]:
        with self._core.lock:
            self._tick()
            found = self._core.regions[region].clusters.values()
            return [c.to_api() for c in sorted(found, key=lambda c: c.create_timestamp)]

    def hsms(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self.cluster(cluster_id)["Hsms"])

    def backups(self, region: str) -> list[dict[str, Any]]:
        """Every visible backup of the region, oldest first."""
        with self._core.lock:
            self._tick()
            found = self._core.regions[region].backups.values()
            ordered = sorted(found, key=lambda b: (b.create_timestamp, b.backup_id))
            return [b.to_api() for b in ordered]

    def backup(self, backup_id: str) -> dict[str, Any]:
        with self._core.lock:
            self._tick()
            for state in self._core.regions.values():
                if backup_id in state.backups:
                    return state.backups[backup_id].to_api()
            raise KeyError(backup_id)

    def resource_policy(self, arn: str) -> str | None:
        with self._core.lock:
            return self._core.policies.get(arn)

    def _find_cluster(self, cluster_id: str) -> tuple[str, Cluster]:
        for region, state in self._core.regions.items():
            if cluster_id in state.clusters:
                return region, state.clusters[cluster_id]
        raise KeyError(cluster_id)

    def _known_cluster(self, cluster_id: str) -> bool:
        return any(cluster_id in state.clusters for state in self._core.regions.values())
