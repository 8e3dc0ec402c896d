"""The HSM users a check expects back. PKCS#11 cannot list users, so listing is
pluggable:

- AWS: `cloudhsm-cli user list`, run in the verifier's image as the crypto user
  (CLOUDHSM_ROLE / CLOUDHSM_PIN), against the cluster the client is configured for;
- a JSON file holding that command's output (the sandbox writes one per emulated
  cluster; an operator can save one too).

Both read the CloudHSM CLI's JSON: {"data": {"users": [{"username", "role", ...}]}}.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lambdas.keycheck.manifest import HsmUser

CLOUDHSM_CLI = "/opt/cloudhsm/bin/cloudhsm-cli"
CLI_TIMEOUT_SECONDS = 60


class UserListError(RuntimeError):
    """The user list could not be read or parsed."""


class UserLister(Protocol):
    def list_users(self, cluster_id: str) -> tuple[HsmUser, ...]: ...


def parse_user_list(text: str) -> tuple[HsmUser, ...]:
    """Users from `cloudhsm-cli user list` output (or a bare list of user objects)."""
    try:
        document: Any = json.loads(text)
    except ValueError as error:
        raise UserListError(f"the user list is not JSON: {error}") from error
    if isinstance(document, Mapping):
        if document.get("error_code", 0) != 0:
            raise UserListError(f"cloudhsm-cli reported an error: {document.get('data')}")
        document = (document.get("data") or {}).get("users")
    if not isinstance(document, list) or not all(
        isinstance(u, Mapping) and "username" in u for u in document
    ):
        raise UserListError("the user list has no data.users list of {username, role}")
    return tuple(HsmUser.from_dict(u) for u in document)


@dataclass(frozen=True)
class StaticUserLister:
    users: tuple[HsmUser, ...]

    def list_users(self, cluster_id: str) -> tuple[HsmUser, ...]:
        return self.users


@dataclass(frozen=True)
class FileUserLister:
    """`path_template` may name the cluster: /data/users/{cluster_id}.json."""

    path_template: str

    def list_users(self, cluster_id: str) -> tuple[HsmUser, ...]:
        path = Path(self.path_template.format(cluster_id=cluster_id))
        try:
            return parse_user_list(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise UserListError(f"cannot read the user list {path}: {error.strerror}") from error


@dataclass(frozen=True)
class CloudHsmCliUserLister:
    """Runs `cloudhsm-cli user list` (configured beforehand with configure-cli)."""

    pin: str
    command: Sequence[str] = (CLOUDHSM_CLI, "user", "list")
    role: str = "crypto-user"

    def list_users(self, cluster_id: str) -> tuple[HsmUser, ...]:
        env = {**os.environ, "CLOUDHSM_ROLE": self.role, "CLOUDHSM_PIN": self.pin}
        try:
            done = subprocess.run(  # noqa: S603 - a fixed command, no shell
                list(self.command),
                env=env,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise UserListError(f"{self.command[0]} did not run: {error}") from error
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()[:300]
            raise UserListError(f"cloudhsm-cli user list exited {done.returncode}: {detail}")
        return parse_user_list(done.stdout)
