"""World-wide knobs: quotas and the behaviours the facts page leaves UNCONFIRMED.

Each UNCONFIRMED behaviour is a field here so a test can pin it either way; the
defaults are the emulator's best reading of the AWS documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

StatesFilterQuirk = Literal["off", "reject", "first-only"]


@dataclass
class Quotas:
    """Facts page: per account and region 4 clusters and 6 HSMs (both adjustable),
    28 HSMs per cluster. Exceeding one raises CloudHsmResourceLimitExceededException."""

    clusters_per_region: int = 4
    hsms_per_region: int = 6
    hsms_per_cluster: int = 28
    tags_per_resource: int = 50


@dataclass
class WorldSettings:
    # The service backs every active cluster up "at least once every 24 hours".
    daily_backup_interval: timedelta = timedelta(hours=24)
    # DeleteBackup and retention purges keep a backup restorable for 7 days.
    pending_deletion_period: timedelta = timedelta(days=7)
    # UNCONFIRMED: how long DELETED clusters and backups stay visible in
    # DescribeClusters / DescribeBackups before they disappear.
    deleted_visible_for: timedelta = timedelta(hours=24)
    # UNCONFIRMED: order of DescribeBackups when SortAscending is omitted. The docs
    # only say SortAscending "designates whether or not to sort ... by ascending
    # chronological order"; an omitted boolean reads as False, i.e. newest first.
    default_sort_ascending: bool = False
    # UNCONFIRMED quirk: DescribeBackups' states filter may accept one state only.
    # "reject": more than one value -> CloudHsmInvalidRequestException;
    # "first-only": the extra values are silently ignored.
    backup_states_filter_quirk: StatesFilterQuirk = "off"
    # Activation (INITIALIZED -> ACTIVE) is done by an operator with the CloudHSM CLI,
    # outside the API. With auto_activate the emulator does it profile.cluster_activate
    # after initialization once an HSM is ACTIVE; otherwise call world.activate_cluster().
    auto_activate: bool = True
    # UNCONFIRMED: a copy's CreateTimestamp. DestinationBackup.CreateTimestamp is
    # documented as "when the source backup was created", so by default the copy keeps
    # the source's CreateTimestamp and records the copy time in CopyTimestamp.
    copy_keeps_source_create_timestamp: bool = True
    # UNCONFIRMED: how long an HsmType change can be rolled back.
    hsm_type_rollback_window: timedelta = timedelta(days=7)
