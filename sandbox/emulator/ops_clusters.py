"""CreateCluster, DeleteCluster, DescribeClusters, ModifyCluster, InitializeCluster."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.emulator import lifecycle, validation
from sandbox.emulator.core import WorldCore
from sandbox.emulator.errors import (
    CloudHsmInvalidRequestException,
    CloudHsmResourceLimitExceededException,
    CloudHsmServiceException,
)
from sandbox.emulator.models import (
    HSM_TYPES,
    LEGACY_HSM_TYPE,
    MODES,
    NETWORK_TYPES,
    Backup,
    BackupState,
    Cluster,
    ClusterState,
    HsmState,
)
from sandbox.emulator.network import SubnetInfo
from sandbox.emulator.pagination import page

MAX_CLUSTERS_PAGE = 25
MAX_SUBNETS = 10
MAX_CERT_CHARS = 5000
CLUSTER_FILTERS = ("clusterIds", "vpcIds", "states")


def resolve_subnets(
    core: WorldCore, region: str, subnet_ids: Any, network_type: str = "IPV4"
) -> tuple[str, dict[str, str]]:
    """Subnets -> (VPC id, {AZ: subnet}); one subnet per AZ, all in one VPC."""
    if not isinstance(subnet_ids, list) or not 1 <= len(subnet_ids) <= MAX_SUBNETS:
        raise CloudHsmInvalidRequestException(
            f"SubnetIds must list between 1 and {MAX_SUBNETS} subnets"
        )
    infos: list[SubnetInfo] = []
    for subnet_id in subnet_ids:
        info = core.ec2.subnet(region, str(subnet_id))
        if info is None:
            raise CloudHsmInvalidRequestException(f"Subnet {subnet_id} does not exist in {region}")
        infos.append(info)
    vpcs = {info.vpc_id for info in infos}
    if len(vpcs) != 1:
        raise CloudHsmInvalidRequestException(
            f"All subnets must be in the same VPC; got {', '.join(sorted(vpcs))}"
        )
    mapping: dict[str, str] = {}
    for info in infos:
        if info.availability_zone in mapping:
            raise CloudHsmInvalidRequestException(
                f"Only one subnet per Availability Zone: {mapping[info.availability_zone]} "
                f"and {info.subnet_id} are both in {info.availability_zone}"
            )
        if network_type == "DUALSTACK" and info.ipv6_cidr is None:
            raise CloudHsmInvalidRequestException(
                f"NetworkType DUALSTACK needs an IPv6 CIDR on subnet {info.subnet_id}"
            )
        mapping[info.availability_zone] = info.subnet_id
    return vpcs.pop(), mapping


def check_restore_compatibility(backup: Backup, hsm_type: str, mode: str) -> None:
    """Facts page: Mode must match; hsm2m backups restore only to hsm2m; hsm1 backups
    restore to hsm1 or to hsm2m in FIPS mode."""
    if backup.state != BackupState.READY:
        raise CloudHsmInvalidRequestException(
            f"Backup {backup.backup_id} is {backup.state.value}; only READY backups can be "
            "used to create a cluster"
        )
    if backup.mode != mode:
        raise CloudHsmInvalidRequestException(
            f"Backup {backup.backup_id} was taken in {backup.mode} mode and can only be "
            f"restored to a {backup.mode} cluster, not {mode}"
        )
    if backup.hsm_type == hsm_type:
        return
    if backup.hsm_type == LEGACY_HSM_TYPE and hsm_type == "hsm2m.medium" and mode == "FIPS":
        return
    raise CloudHsmInvalidRequestException(
        f"A {backup.hsm_type} backup cannot be restored to an {hsm_type} cluster"
    )


def create_cluster(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    hsm_type = validation.one_of(str(validation.require(params, "HsmType")), HSM_TYPES, "HsmType")
    mode = validation.one_of(str(params.get("Mode") or "FIPS"), MODES, "Mode")
    network_type = validation.one_of(
        str(params.get("NetworkType") or "IPV4"), NETWORK_TYPES, "NetworkType"
    )
    retention = (
        validation.retention_days(params["BackupRetentionPolicy"])
        if params.get("BackupRetentionPolicy") is not None
        else validation.DEFAULT_RETENTION_DAYS
    )
    tags = validation.tags_from_list(params.get("TagList"))
    validation.within_tag_limit(tags, core.quotas.tags_per_resource)
    source: Backup | None = None
    if params.get("SourceBackupId"):
        source = core.backup_by_reference(region, str(params["SourceBackupId"]))
        check_restore_compatibility(source, hsm_type, mode)
    elif hsm_type == LEGACY_HSM_TYPE:
        raise CloudHsmInvalidRequestException(
            "hsm1.medium clusters can no longer be created; use hsm2m.medium"
        )
    vpc_id, mapping = resolve_subnets(core, region, params.get("SubnetIds"), network_type)
    live = [c for c in core.regions[region].clusters.values() if c.state != ClusterState.DELETED]
    if len(live) >= core.quotas.clusters_per_region:
        raise CloudHsmResourceLimitExceededException(
            f"Limit of {core.quotas.clusters_per_region} clusters in {region} reached"
        )
    cluster = new_cluster(
        core,
        region,
        cluster_id=core.ids.cluster_id(),
        hsm_type=hsm_type,
        mode=mode,
        network_type=network_type,
        vpc_id=vpc_id,
        mapping=mapping,
        retention=retention,
        tags=tags,
        created=core.now(),
        source=source,
    )
    target = ClusterState.ACTIVE if source is not None else ClusterState.UNINITIALIZED
    core.scheduler.at(
        cluster.create_timestamp + core.duration("cluster_create"),
        f"cluster {cluster.cluster_id} created",
        lambda due: _finish_create(core, region, cluster, target, due),
    )
    return {"Cluster": cluster.to_api()}


def new_cluster(
    core: WorldCore,
    region: str,
    *,
    cluster_id: str,
    hsm_type: str,
    mode: str,
    network_type: str,
    vpc_id: str,
    mapping: dict[str, str],
    retention: int,
    tags: dict[str, str],
    created: datetime,
    source: Backup | None,
    state: ClusterState = ClusterState.CREATE_IN_PROGRESS,
) -> Cluster:
    """Store a cluster record with its security group (shared with world seeding)."""
    try:
        security_group = core.ec2.create_cluster_security_group(region, vpc_id, cluster_id)
    except Exception as error:  # moto's EC2 refused: surface as the service's own failure
        raise CloudHsmServiceException(
            f"Could not create the security group for {cluster_id}: {error}"
        ) from error
    cluster = Cluster(
        cluster_id=cluster_id,
        region=region,
        account_id=core.account_id,
        hsm_type=hsm_type,
        mode=mode,
        network_type=network_type,
        state=state,
        state_message="",
        vpc_id=vpc_id,
        subnet_mapping=mapping,
        security_group=security_group,
        create_timestamp=created,
        retention_days=retention,
        source_backup_id=source.backup_id if source is not None else None,
        certificates=dict(source.certificates) if source is not None else {},
        tags=tags,
    )
    cluster.set_state(state)
    core.regions[region].clusters[cluster_id] = cluster
    core.regions[region].retention_days_by_cluster[cluster_id] = retention
    return cluster


def _finish_create(
    core: WorldCore, region: str, cluster: Cluster, target: ClusterState, due: datetime
) -> None:
    if cluster.state != ClusterState.CREATE_IN_PROGRESS:
        return
    cluster.set_state(target)
    if target == ClusterState.ACTIVE:
        # From a backup: no initialization. Daily backups start once it has an HSM.
        lifecycle.schedule_daily(core, region, cluster, due + core.settings.daily_backup_interval)


def delete_cluster(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    cluster = core.cluster(region, str(validation.require(params, "ClusterId")))
    if cluster.live_hsms():
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} still contains HSMs; delete them first"
        )
    if cluster.state not in (
        ClusterState.UNINITIALIZED,
        ClusterState.INITIALIZED,
        ClusterState.ACTIVE,
        ClusterState.DEGRADED,
    ):
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} cannot be deleted in state {cluster.state.value}"
        )
    cluster.set_state(ClusterState.DELETE_IN_PROGRESS)

    def finish(due: datetime) -> None:
        cluster.set_state(ClusterState.DELETED)
        cluster.deleted_at = due
        core.ec2.delete_security_group(region, cluster.security_group)

    core.scheduler.at(
        core.now() + core.duration("cluster_delete"),
        f"cluster {cluster.cluster_id} deleted",
        finish,
    )
    return {"Cluster": cluster.to_api()}


def describe_clusters(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    wanted = validation.filters(params, CLUSTER_FILTERS)
    for state in wanted.get("states", []):
        validation.one_of(state, [s.value for s in ClusterState], "cluster state")
    clusters = sorted(
        core.regions[region].clusters.values(),
        key=lambda c: (c.create_timestamp, c.cluster_id),
    )
    selected = [
        c
        for c in clusters
        if ("clusterIds" not in wanted or c.cluster_id in wanted["clusterIds"])
        and ("vpcIds" not in wanted or c.vpc_id in wanted["vpcIds"])
        and ("states" not in wanted or c.state.value in wanted["states"])
    ]
    chunk, token = page(
        selected,
        params,
        operation="DescribeClusters",
        limit=MAX_CLUSTERS_PAGE,
        default=MAX_CLUSTERS_PAGE,
    )
    body: dict[str, Any] = {"Clusters": [c.to_api() for c in chunk]}
    if token:
        body["NextToken"] = token
    return body


def modify_cluster(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    cluster = core.cluster(region, str(validation.require(params, "ClusterId")))
    new_type = params.get("HsmType")
    policy = params.get("BackupRetentionPolicy")
    if new_type is None and policy is None:
        raise CloudHsmInvalidRequestException(
            "ModifyCluster needs HsmType or BackupRetentionPolicy"
        )
    if cluster.state in (ClusterState.DELETE_IN_PROGRESS, ClusterState.DELETED):
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} is {cluster.state.value}"
        )
    days = validation.retention_days(policy) if policy is not None else None
    if new_type is not None and str(new_type) != cluster.hsm_type:
        _start_type_change(core, cluster, validation.one_of(str(new_type), HSM_TYPES, "HsmType"))
    if days is not None:
        cluster.retention_days = days
        core.regions[region].retention_days_by_cluster[cluster.cluster_id] = days
    return {"Cluster": cluster.to_api()}


def _start_type_change(core: WorldCore, cluster: Cluster, new_type: str) -> None:
    """hsm1.medium -> hsm2m.medium migration, and its rollback inside the window."""
    if cluster.state != ClusterState.ACTIVE:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} must be ACTIVE to change its HSM type"
        )
    now = core.now()
    if cluster.hsm_type == LEGACY_HSM_TYPE and new_type == "hsm2m.medium":
        if cluster.mode != "FIPS":
            raise CloudHsmInvalidRequestException("Only FIPS clusters can migrate to hsm2m")
        transitional = ClusterState.MODIFY_IN_PROGRESS
    elif (
        cluster.previous_hsm_type == new_type
        and cluster.hsm_type_rollback_expiration is not None
        and cluster.hsm_type_rollback_expiration > now
    ):
        transitional = ClusterState.ROLLBACK_IN_PROGRESS
    else:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} cannot change from {cluster.hsm_type} to {new_type}"
        )
    cluster.set_state(transitional, f"HSM type change to {new_type} in progress.")
    old_type = cluster.hsm_type

    def finish(due: datetime) -> None:
        cluster.hsm_type = new_type
        for hsm in cluster.live_hsms():
            hsm.hsm_type = new_type
        if transitional == ClusterState.MODIFY_IN_PROGRESS:
            cluster.previous_hsm_type = old_type
            cluster.hsm_type_rollback_expiration = due + core.settings.hsm_type_rollback_window
        else:
            cluster.previous_hsm_type = None
            cluster.hsm_type_rollback_expiration = None
        cluster.set_state(ClusterState.ACTIVE)

    core.scheduler.at(
        now + core.duration("cluster_modify"),
        f"cluster {cluster.cluster_id} type change",
        finish,
    )


def initialize_cluster(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    cluster = core.cluster(region, str(validation.require(params, "ClusterId")))
    signed = str(validation.require(params, "SignedCert"))
    anchor = str(validation.require(params, "TrustAnchor"))
    if cluster.state != ClusterState.UNINITIALIZED:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} is {cluster.state.value}, not UNINITIALIZED"
        )
    if not any(h.state == HsmState.ACTIVE for h in cluster.hsms.values()):
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} has no ACTIVE HSM, so it has no CSR to sign yet"
        )
    for name, pem in (("SignedCert", signed), ("TrustAnchor", anchor)):
        if "-----BEGIN CERTIFICATE-----" not in pem or len(pem) > MAX_CERT_CHARS:
            raise CloudHsmInvalidRequestException(
                f"{name} must be a PEM certificate of at most {MAX_CERT_CHARS} characters"
            )
    cluster.set_state(ClusterState.INITIALIZE_IN_PROGRESS)

    def finish(due: datetime) -> None:
        cluster.certificates["ClusterCertificate"] = signed
        cluster.trust_anchor = anchor
        cluster.set_state(ClusterState.INITIALIZED)
        if cluster.active_hsms():
            lifecycle.schedule_activation(core, region, cluster, due)

    core.scheduler.at(
        core.now() + core.duration("cluster_initialize"),
        f"cluster {cluster.cluster_id} initialized",
        finish,
    )
    return {"State": cluster.state.value, "StateMessage": cluster.state_message}
