"""Point the verifier at one cluster: configure the client (AWS), then the PKCS#11
connection and the user lister the settings call for."""

from __future__ import annotations

from collections.abc import Sequence

from lambdas.keycheck.client_setup import CryptoUser, configure_client, target_arguments
from lambdas.keycheck.hsm import HsmConnection
from lambdas.keycheck.settings import USERS_FROM_FILE, KeyCheckSettings
from lambdas.keycheck.users import CloudHsmCliUserLister, FileUserLister, UserLister


def prepare_target(
    settings: KeyCheckSettings,
    *,
    cluster_id: str,
    region: str,
    hsm_ips: Sequence[str],
    user: CryptoUser,
) -> tuple[HsmConnection, UserLister]:
    """Raises HsmUnreachable when the client cannot be configured for the cluster."""
    if settings.configure_client:
        configure_client(target_arguments(cluster_id, region, hsm_ips), user.customer_ca)
    connection = HsmConnection(
        library_path=settings.library_path,
        pin=user.pin,
        token_label=settings.token_label_for(cluster_id),
    )
    users: UserLister
    if settings.users_source.startswith(USERS_FROM_FILE):
        users = FileUserLister(settings.users_source.removeprefix(USERS_FROM_FILE))
    else:
        users = CloudHsmCliUserLister(pin=user.pin)
    return connection, users
