"""Capture a cluster's key manifest; check a (restored) cluster against one.

These two functions are the API that handlers, the sandbox and the DR drill call.
The client must already point at the cluster (client_setup in AWS; the token label
in SoftHSM).
"""

from __future__ import annotations

from datetime import UTC, datetime

from lambdas.keycheck.comparison import (
    KeyCheckReport,
    check_report,
    failed_report,
    login_failed,
    unreachable,
)
from lambdas.keycheck.hsm import HsmConnection, logged_in_session, read_keys, run_canary
from lambdas.keycheck.manifest import KeyManifest
from lambdas.keycheck.users import UserLister, UserListError
from lambdas.shared.errors import HsmLoginFailed, HsmUnreachable


def capture_manifest(
    cluster_id: str,
    connection: HsmConnection,
    users: UserLister,
    *,
    now: datetime | None = None,
) -> KeyManifest:
    """Every key the crypto user sees, with its KCV, and the cluster's users.

    Raises HsmUnreachable, HsmLoginFailed or UserListError: a manifest with holes would
    make later drills report keys as missing that never were captured.
    """
    with logged_in_session(connection) as session:
        keys, notes = read_keys(session)
    return KeyManifest(
        cluster_id=cluster_id,
        captured_at=now or datetime.now(UTC),
        keys=tuple(keys),
        users=users.list_users(cluster_id),
        notes=tuple(notes),
    )


def check_keys(
    manifest: KeyManifest,
    *,
    cluster_id: str,
    connection: HsmConnection,
    users: UserLister,
    canary_label: str | None,
    manifest_key: str | None = None,
    now: datetime | None = None,
) -> KeyCheckReport:
    """`cluster_id` (a restored cluster) against `manifest` (taken from its source):
    a report whose findings say what did not come back. Never raises for what the HSM
    does: an HSM that cannot be reached or refuses the login is a finding."""
    checked_at = now or datetime.now(UTC)
    try:
        with logged_in_session(connection) as session:
            keys, notes = read_keys(session)
            canary = run_canary(session, canary_label) if canary_label else None
        found_users = users.list_users(cluster_id)
    except HsmLoginFailed as error:
        finding = login_failed(str(error))
    except (HsmUnreachable, UserListError) as error:
        finding = unreachable(str(error))
    else:
        return check_report(
            manifest,
            cluster_id=cluster_id,
            manifest_key=manifest_key,
            found_keys=keys,
            found_users=found_users,
            canary=canary,
            checked_at=checked_at,
            notes=notes,
        )
    return failed_report(
        manifest,
        cluster_id=cluster_id,
        manifest_key=manifest_key,
        finding=finding,
        checked_at=checked_at,
    )
