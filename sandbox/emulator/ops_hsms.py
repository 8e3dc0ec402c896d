"""CreateHsm and DeleteHsm."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from sandbox.emulator import lifecycle, validation
from sandbox.emulator.core import WorldCore
from sandbox.emulator.errors import (
    CloudHsmInvalidRequestException,
    CloudHsmResourceLimitExceededException,
    CloudHsmResourceNotFoundException,
    CloudHsmServiceException,
)
from sandbox.emulator.models import HSM_MESSAGES, Cluster, ClusterState, Hsm, HsmState
from sandbox.emulator.network import SubnetInfo

# States in which the service accepts a new HSM.
_ACCEPTS_HSMS = (
    ClusterState.UNINITIALIZED,
    ClusterState.INITIALIZED,
    ClusterState.ACTIVE,
    ClusterState.DEGRADED,
)


def create_hsm(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    cluster = core.cluster(region, str(validation.require(params, "ClusterId")))
    zone = str(validation.require(params, "AvailabilityZone"))
    _check_cluster_accepts_hsm(core, region, cluster)
    now = core.now()
    hsm = place_hsm(
        core,
        region,
        cluster,
        zone,
        requested_ip=str(params["IpAddress"]) if params.get("IpAddress") else None,
        state=HsmState.CREATE_IN_PROGRESS,
        created_at=now,
    )
    hsm.restored_backup_id = _backup_for_new_hsm(core, region, cluster, now)
    # Decided now, surfaced late: an unsupported AZ or a degraded-at-creation HSM only
    # shows once creation "finishes".
    degraded = core.faults.az_unsupported(zone) or core.faults.take_hsm_degraded(cluster.cluster_id)
    core.scheduler.at(
        now + core.duration("hsm_create"),
        f"hsm {hsm.hsm_id} created",
        lambda due: lifecycle.finish_hsm_create(
            core, region, cluster, hsm, degraded=degraded, due=due
        ),
    )
    return {"Hsm": hsm.to_api()}


def place_hsm(
    core: WorldCore,
    region: str,
    cluster: Cluster,
    zone: str,
    *,
    requested_ip: str | None,
    state: HsmState,
    created_at: datetime,
) -> Hsm:
    """Give a new HSM an address and an ENI in the AZ's subnet and add it to the cluster
    (shared with world seeding)."""
    subnet_id = cluster.subnet_mapping.get(zone)
    if subnet_id is None:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} has no subnet in {zone}; its Availability Zones "
            f"are {', '.join(sorted(cluster.subnet_mapping))}"
        )
    subnet = core.ec2.subnet(region, subnet_id)
    if subnet is None:
        raise CloudHsmServiceException(
            f"Subnet {subnet_id} of cluster {cluster.cluster_id} no longer exists"
        )
    taken = _ips_in_use(core, region, subnet_id)
    if requested_ip is not None:
        ip = _check_requested_ip(requested_ip, subnet, taken)
    else:
        picked = core.ec2.pick_free_ip(subnet, taken)
        if picked is None:
            raise CloudHsmInvalidRequestException(f"Subnet {subnet_id} has no free address")
        ip = picked
    hsm_id = core.ids.hsm_id()
    try:
        eni_id = core.ec2.create_eni(region, subnet_id, ip, cluster.security_group, hsm_id)
    except Exception as error:  # moto's EC2 refused: the service's own failure
        raise CloudHsmServiceException(f"Could not create the HSM's ENI: {error}") from error
    hsm = Hsm(
        hsm_id=hsm_id,
        cluster_id=cluster.cluster_id,
        availability_zone=zone,
        subnet_id=subnet_id,
        eni_id=eni_id,
        eni_ip=ip,
        eni_ip_v6=core.ec2.pick_ipv6(subnet) if cluster.network_type == "DUALSTACK" else None,
        hsm_type=cluster.hsm_type,
        state=state,
        state_message=HSM_MESSAGES[state],
        created_at=created_at,
    )
    cluster.hsms[hsm_id] = hsm
    return hsm


def _check_cluster_accepts_hsm(core: WorldCore, region: str, cluster: Cluster) -> None:
    if cluster.state not in _ACCEPTS_HSMS:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} is {cluster.state.value}; HSMs can be added to "
            "UNINITIALIZED, INITIALIZED or ACTIVE clusters only"
        )
    live = cluster.live_hsms()
    if any(h.state == HsmState.CREATE_IN_PROGRESS for h in live):
        # Facts page: create HSMs one at a time.
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} already contains an HSM but has not yet been fully "
            "activated. Wait for the HSM to become ACTIVE before adding another."
        )
    if cluster.state != ClusterState.ACTIVE and live:
        raise CloudHsmInvalidRequestException(
            f"Cluster {cluster.cluster_id} is {cluster.state.value}: initialize and activate "
            "it before adding a second HSM"
        )
    if len(live) >= core.quotas.hsms_per_cluster:
        raise CloudHsmResourceLimitExceededException(
            f"Cluster {cluster.cluster_id} already has {len(live)} HSMs, the maximum"
        )
    in_region = sum(len(c.live_hsms()) for c in core.regions[region].clusters.values())
    if in_region >= core.quotas.hsms_per_region:
        raise CloudHsmResourceLimitExceededException(
            f"Limit of {core.quotas.hsms_per_region} HSMs in {region} reached"
        )


def _ips_in_use(core: WorldCore, region: str, subnet_id: str) -> set[str]:
    taken = core.ec2.used_ips(region, subnet_id)
    for cluster in core.regions[region].clusters.values():
        taken.update(h.eni_ip for h in cluster.live_hsms() if h.subnet_id == subnet_id)
    return taken


def _check_requested_ip(requested: str, subnet: SubnetInfo, taken: set[str]) -> str:
    try:
        address = ipaddress.IPv4Address(requested)
    except ValueError as error:
        raise CloudHsmInvalidRequestException(f"Invalid IpAddress {requested}") from error
    if not subnet.usable(address):
        raise CloudHsmInvalidRequestException(
            f"IpAddress {requested} is not an available address of subnet "
            f"{subnet.subnet_id} ({subnet.cidr})"
        )
    if requested in taken:
        raise CloudHsmInvalidRequestException(f"IpAddress {requested} is already in use")
    return requested


def _backup_for_new_hsm(
    core: WorldCore, region: str, cluster: Cluster, now: datetime
) -> str | None:
    """Adding an HSM backs up an existing ACTIVE HSM and restores that onto the new one;
    with no ACTIVE HSM the newest READY backup (or the source backup) is restored."""
    if cluster.state == ClusterState.ACTIVE and cluster.active_hsms():
        return lifecycle.start_backup(core, region, cluster, now).backup_id
    latest = lifecycle.latest_ready_backup(core, region, cluster.cluster_id)
    if latest is not None:
        return latest.backup_id
    return cluster.source_backup_id


def delete_hsm(core: WorldCore, region: str, params: dict[str, Any]) -> dict[str, Any]:
    cluster = core.cluster(region, str(validation.require(params, "ClusterId")))
    hsm = _find_hsm(cluster, params)
    if hsm.state == HsmState.DELETE_IN_PROGRESS:
        return {"HsmId": hsm.hsm_id}  # already going: repeat calls are harmless
    if cluster.state == ClusterState.ACTIVE and cluster.active_hsms():
        # Removing an HSM from an active cluster makes a backup first (facts page).
        lifecycle.start_backup(core, region, cluster, core.now())
    hsm.state = HsmState.DELETE_IN_PROGRESS
    hsm.state_message = HSM_MESSAGES[HsmState.DELETE_IN_PROGRESS]
    core.scheduler.at(
        core.now() + core.duration("hsm_delete"),
        f"hsm {hsm.hsm_id} deleted",
        lambda _due: lifecycle.finish_hsm_delete(core, region, cluster, hsm),
    )
    return {"HsmId": hsm.hsm_id}


def _find_hsm(cluster: Cluster, params: dict[str, Any]) -> Hsm:
    given = {name: str(params[name]) for name in ("HsmId", "EniId", "EniIp") if params.get(name)}
    if not given:
        raise CloudHsmInvalidRequestException("Specify one of HsmId, EniId or EniIp")
    for hsm in cluster.live_hsms():
        identity = {"HsmId": hsm.hsm_id, "EniId": hsm.eni_id, "EniIp": hsm.eni_ip}
        if all(identity[name] == value for name, value in given.items()):
            return hsm
    described = ", ".join(f"{name} {value}" for name, value in given.items())
    raise CloudHsmResourceNotFoundException(
        f"No HSM with {described} in cluster {cluster.cluster_id}"
    )
