"""The manifest's JSON, its S3 keys, which manifest a backup is compared with, and
the user lists it records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambdas.keycheck.manifest import (
    HsmUser,
    KeyManifest,
    KeyRecord,
    captured_at_of,
    latest_object_key,
    manifest_object_key,
    newest_at_or_before,
)
from lambdas.keycheck.users import FileUserLister, UserListError, parse_user_list

CLUSTER = "cluster-sourceclustera"
T0 = datetime(2025, 3, 1, 2, 0, 5, 123456, tzinfo=UTC)


def test_manifest_round_trips_through_json() -> None:
    manifest = KeyManifest(
        CLUSTER,
        T0,
        (KeyRecord("k", "0a", "SECRET_KEY", "AES", 256, "abcdef", ("encrypt",)),),
        (HsmUser("admin", "admin"),),
        notes=("no check value for x",),
    )
    assert KeyManifest.from_json(manifest.to_json()) == manifest


def test_unknown_format_version_is_refused() -> None:
    data = json.loads(KeyManifest(CLUSTER, T0, (), ()).to_json())
    data["format_version"] = 99
    with pytest.raises(ValueError, match="format_version 99"):
        KeyManifest.from_dict(data)


def test_object_keys_carry_cluster_and_utc_second() -> None:
    key = manifest_object_key(CLUSTER, T0)
    assert key == f"manifests/{CLUSTER}/20250301T020005Z.json"
    assert captured_at_of(key) == T0.replace(microsecond=0)
    assert captured_at_of(latest_object_key(CLUSTER)) is None


def test_a_backup_is_compared_with_the_newest_manifest_taken_at_or_before_it() -> None:
    # Given daily manifests and latest.json
    keys = [manifest_object_key(CLUSTER, T0 + timedelta(days=d)) for d in range(3)]
    keys.append(latest_object_key(CLUSTER))
    # When a backup made 30 hours after the first manifest is checked
    chosen = newest_at_or_before(keys, T0 + timedelta(hours=30))
    # Then the second day's manifest is the one, never latest.json
    assert chosen == keys[1]
    assert newest_at_or_before(keys, T0 + timedelta(days=2)) == keys[2]
    assert newest_at_or_before(keys, T0 - timedelta(seconds=1)) is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        newest_at_or_before([], datetime(2025, 1, 1))


def test_cloudhsm_cli_user_list_output_is_parsed(tmp_path: Path) -> None:
    output = {
        "error_code": 0,
        "data": {
            "users": [
                {"username": "admin", "role": "admin", "locked": "false", "mfa": []},
                {"username": "app", "role": "crypto-user", "locked": "false", "mfa": []},
            ]
        },
    }
    path = tmp_path / "cluster-sourceclustera.json"
    path.write_text(json.dumps(output))
    users = FileUserLister(str(tmp_path / "{cluster_id}.json")).list_users(CLUSTER)
    assert users == (HsmUser("admin", "admin"), HsmUser("app", "crypto-user"))


def test_cli_error_and_garbage_are_user_list_errors() -> None:
    with pytest.raises(UserListError, match="reported an error"):
        parse_user_list(json.dumps({"error_code": 1, "data": "Session not logged in"}))
    with pytest.raises(UserListError, match="not JSON"):
        parse_user_list("Error: connection refused")
    with pytest.raises(UserListError, match="cannot read"):
        FileUserLister("/nonexistent/{cluster_id}.json").list_users(CLUSTER)
