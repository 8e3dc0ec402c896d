"""Embedded AWS CloudHSM (cloudhsmv2) emulator, plugged into moto.

    from sandbox.emulator import CloudHsmWorld, PROFILES, install
    world = CloudHsmWorld(profile=PROFILES["test"])
    with mock_aws(), install(world):
        cluster_id = world.seed_cluster(region="us-east-1", subnet_ids=[...])
        boto3.client("cloudhsmv2", region_name="us-east-1").describe_clusters()

Behaviour follows /work/shared/cloudhsm-facts.md. Choices on points the facts page or
the API reference leave open (UNCONFIRMED ones are settings in settings.WorldSettings):

- Time: real UTC wall time; transitions apply lazily (on each call, settle, time_travel)
  in due-time order. time_travel shifts stored timestamps and due times into the past.
- Durations (profile.py): realistic HSM create 15 min / delete 12 min (facts page);
  cluster create 5 min, initialize 3 min, backup 5 min, copy 10 min are guesses.
  `compressed(profile, N)` runs a profile's durations N times faster than the wall
  (SPEEDS["realistic"]: 120x); world.emulated_durations() lists each one drawn.
- Activation happens outside the API (CloudHSM CLI). With settings.auto_activate (default)
  a cluster goes INITIALIZED -> ACTIVE profile.cluster_activate after initialization
  once it has an ACTIVE HSM (InitializeCluster itself needs one: the CSR comes from the
  first HSM); activation makes a backup. Otherwise call world.activate_cluster().
- A cluster that is not ACTIVE takes only one HSM; CreateHsm while another HSM is
  CREATE_IN_PROGRESS fails ("already contains an HSM but has not yet been fully
  activated"). A DEGRADED HSM does not block CreateHsm in an ACTIVE cluster.
- Backups on HSM changes: adding an HSM to an ACTIVE cluster with an ACTIVE HSM, and
  removing an HSM from an ACTIVE cluster that has any ACTIVE HSM (the one removed
  included: deleting the last HSM leaves a backup to restore later). A new HSM with no
  ACTIVE sibling restores the newest READY backup (or the cluster's source backup).
- Daily backups: each ACTIVE cluster with an ACTIVE HSM is backed up
  settings.daily_backup_interval after its previous backup.
- Retention: a READY backup older than the policy that is not NeverExpires, not a copy
  and not the cluster's newest READY backup goes PENDING_DELETION (DeleteTimestamp
  +7 days), then DELETED. A restored backup's retention period restarts at the restore.
- DELETED clusters and backups stay listed for settings.deleted_visible_for (24 h).
- DescribeBackups: newest first unless SortAscending=true (settings.default_sort_ascending);
  MaxResults defaults to and is capped at 50; DescribeClusters at 25; ListTags default 50,
  cap 100. The one-state quirk is settings.backup_states_filter_quirk (default off).
- Copies keep the source's CreateTimestamp (CopyTimestamp is the copy time), have no
  ClusterId and no retention. DeleteHsm on an HSM already being deleted returns its id.
- Mode omitted on a restore means FIPS, so a NON_FIPS backup needs Mode=NON_FIPS.
- Quotas raise CloudHsmResourceLimitExceededException (world.quotas).
- Keys: the world keeps none. world.key_store (keystore.py; default: none) is told of
  seeding, backups, copies and restores onto a cluster's only ACTIVE HSM, with the
  key faults then on; sandbox/softhsm_keystore.py backs each cluster with a SoftHSM2 token.
- CloudHsmInternalFailureException is HTTP 500 (a server fault, retried by SDKs);
  everything else 400. ThrottlingException comes only from the throttle fault.
- CloudHsmServiceException: the service failed to create an ENI or security group
  (for example the cluster's subnet was deleted). CloudHsmAccessDeniedException: a
  backup ARN of another account that is not shared with the caller (the same answer
  whether it exists or not; which error AWS gives is UNCONFIRMED).
- Resource policies attach to backups only (the API reference names no other type);
  GetResourcePolicy without a policy answers without Policy. Only the owner may get,
  put or delete one (AccessDenied otherwise: a shared backup cannot be re-shared).
- Accounts (sharing.py): a world serves one account; ``add_account`` makes another of
  the same partition (one clock, lock, id factory and key store) and the plug-in routes
  each call to the caller's account. Another account's backup is reachable only by its
  full ARN, as CreateCluster's SourceBackupId, while its resource policy allows the
  caller's account cloudhsm:CreateCluster; every other operation names backups by id
  in the caller's own account, so deleting, copying, tagging or restoring a shared
  backup is "not found". DescribeBackups Shared=true lists only shares promoted to a
  standard RAM share (botocore's model: a PutResourcePolicy share must be promoted
  with RAM's PromoteResourceShareCreatedFromPolicy, which the plug-in adds to moto's
  RAM for the share the policy made, ram_shares.py; ``world.promote_policy_share``
  does the same without RAM). A cluster made from a shared backup belongs to the caller
  and its first HSM gets the backup's keys (the key store is shared).
- DeleteHsm also works on an HSM still CREATE_IN_PROGRESS (its creation is abandoned).
- seed_cluster takes the given backup history as is: no daily backups are invented
  between or after the seeded ones; the next keeps the newest one's 24-hour cadence.
- A world alone in its partition serves every caller whatever its credentials; moto's
  IAM policy checks are not applied to cloudhsmv2 calls (sandbox/permissions does).
- Step Functions (moto_plugin): errors are named CloudHsmV2.<Exception>; SDK timestamps
  in task results become ISO-8601 UTC strings, as Step Functions is understood to render
  them (UNCONFIRMED; moto would otherwise keep datetime objects it cannot serialise).
"""

from sandbox.emulator.faults import FAULT_NAMES, FaultBoard
from sandbox.emulator.moto_plugin import install
from sandbox.emulator.profile import PROFILES, SPEEDS, DurationProfile, compressed
from sandbox.emulator.settings import Quotas, WorldSettings
from sandbox.emulator.world import CloudHsmWorld

__all__ = [
    "FAULT_NAMES",
    "PROFILES",
    "SPEEDS",
    "CloudHsmWorld",
    "DurationProfile",
    "FaultBoard",
    "Quotas",
    "WorldSettings",
    "compressed",
    "install",
]
