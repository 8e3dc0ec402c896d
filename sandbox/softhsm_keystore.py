"""Every emulated cluster backed by a SoftHSM2 token: the emulator's KeyStore.

    with SoftHsmKeyStore.temporary() as store:
        world.key_store = store
        world.seed_cluster(...)          # a token with real keys and a user list
        ...CreateCluster(SourceBackupId) + CreateHsm...
        check_keys(manifest, connection=store.connection(restored_id), ...)

- seeding makes the cluster's token (label = cluster id) with SEEDED_KEYS and writes
  its emulated user list (CloudHSM CLI `user list` JSON) next to it;
- a backup snapshots the token directory and the user list;
- a cluster whose only HSM is restored from a backup gets the backup's snapshot,
  relabelled with its own cluster id, then any key damage the world's faults ask
  for: key-missing deletes MISSING_KEY, key-corrupt replaces CORRUPTED_KEY with a new
  key of the same label, id and attributes, bad-pin changes the crypto user's PIN.

The crypto user's PIN follows CloudHSM's `<user>:<password>` format, so the same
secret shape serves AWS and the sandbox.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.keycheck.hsm import HsmConnection, load_library
from sandbox.softhsm import (
    SOFTHSM_LIBRARY,
    init_token,
    install_copy,
    softhsm_environment,
    token_directory,
    write_config,
)

CRYPTO_USER = "hsmdr-verifier"
CRYPTO_PASSWORD = "sandbox-password"  # noqa: S105 - the sandbox's fixed, public value
USER_PIN = f"{CRYPTO_USER}:{CRYPTO_PASSWORD}"
SO_PIN = "sandbox-so-pin"
ROTATED_PIN = f"{CRYPTO_USER}:rotated-after-the-backup"  # what bad-pin sets
CANARY_LABEL = "hsmdr-canary"
MISSING_KEY = "aes-payments-2"  # what key-missing deletes
CORRUPTED_KEY = "aes-payments-3"  # what key-corrupt replaces


@dataclass(frozen=True)
class SeedKey:
    label: str
    key_type: str  # AES | RSA | EC
    size: int  # bits; for EC, the P-256 curve
    id: bytes


SEEDED_KEYS = (
    SeedKey("aes-payments-1", "AES", 256, b"\x01"),
    SeedKey(MISSING_KEY, "AES", 256, b"\x02"),
    SeedKey(CORRUPTED_KEY, "AES", 256, b"\x03"),
    SeedKey("rsa-signing", "RSA", 2048, b"\x10"),
    SeedKey("ec-signing", "EC", 256, b"\x20"),
    SeedKey(CANARY_LABEL, "AES", 256, b"\xca"),
)
SEEDED_USERS = (
    ("admin", "admin"),
    (CRYPTO_USER, "crypto-user"),
    ("app-payments", "crypto-user"),
)


class SoftHsmKeyStore:
    def __init__(self, root: Path, library: str = SOFTHSM_LIBRARY) -> None:
        self.root = root
        self.library = library
        self.config = write_config(root)
        self.tokens = root / "tokens"
        self.snapshots = root / "snapshots"
        self.users = root / "users"
        for directory in (self.snapshots, self.users):
            directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    @contextmanager
    def temporary(cls) -> Iterator[SoftHsmKeyStore]:
        with tempfile.TemporaryDirectory(prefix="hsmdr-softhsm-") as root:
            yield cls(Path(root))

    # -- what callers need to reach a cluster's token ---------------------------------
    def connection(self, cluster_id: str, pin: str = USER_PIN) -> HsmConnection:
        return HsmConnection(library_path=self.library, pin=pin, token_label=cluster_id)

    @property
    def users_path_template(self) -> str:
        return str(self.users / "{cluster_id}.json")

    @contextmanager
    def environment(self) -> Iterator[None]:
        """SOFTHSM2_CONF for this store, for as long as PKCS#11 is used."""
        with softhsm_environment(self.config):
            yield

    def has_token(self, cluster_id: str) -> bool:
        return token_directory(self.tokens, cluster_id) is not None

    # -- the emulator's KeyStore hooks --------------------------------------------------
    def cluster_seeded(self, cluster_id: str) -> None:
        init_token(self.config, cluster_id, so_pin=SO_PIN, user_pin=USER_PIN)
        with self._session(cluster_id) as session:
            for key in SEEDED_KEYS:
                _generate(session, key)
        self._users_file(cluster_id).write_text(_user_list_json(SEEDED_USERS), encoding="utf-8")

    def backup_taken(self, cluster_id: str, backup_id: str) -> None:
        token = token_directory(self.tokens, cluster_id)
        if token is None:
            return  # a cluster without keys (never seeded or restored with them)
        snapshot = self.snapshots / backup_id
        shutil.copytree(token, snapshot / "token")
        users = self._users_file(cluster_id)
        if users.exists():
            shutil.copy2(users, snapshot / "users.json")

    def backup_copied(self, source_backup_id: str, copy_backup_id: str) -> None:
        source = self.snapshots / source_backup_id
        if source.exists():
            shutil.copytree(source, self.snapshots / copy_backup_id)

    def hsm_restored(self, cluster_id: str, backup_id: str, damage: frozenset[str]) -> None:
        snapshot = self.snapshots / backup_id
        if not (snapshot / "token").exists():
            return
        install_copy(snapshot / "token", self.tokens, cluster_id)
        users = snapshot / "users.json"
        if users.exists():
            shutil.copy2(users, self._users_file(cluster_id))
        if damage:
            self._damage(cluster_id, damage)

    def key_deleted(self, cluster_id: str, label: str) -> None:
        """Someone with the crypto user's rights deletes a secret key from the cluster
        (the sandbox's stand-in for a key retired, or destroyed by an attacker)."""
        with self._session(cluster_id) as session:
            _secret_key(session, label).destroy()

    # -- internals -------------------------------------------------------------------------
    def _damage(self, cluster_id: str, damage: frozenset[str]) -> None:
        with self._session(cluster_id) as session:
            if "key-missing" in damage:
                _secret_key(session, MISSING_KEY).destroy()
            if "key-corrupt" in damage:
                _secret_key(session, CORRUPTED_KEY).destroy()
                _generate(session, next(k for k in SEEDED_KEYS if k.label == CORRUPTED_KEY))
            if "bad-pin" in damage:
                session.set_pin(USER_PIN, ROTATED_PIN)

    @contextmanager
    def _session(self, cluster_id: str) -> Iterator[Any]:
        with self.environment():
            token = load_library(self.library).get_token(token_label=cluster_id)
            with token.open(rw=True, user_pin=USER_PIN) as session:
                yield session

    def _users_file(self, cluster_id: str) -> Path:
        return Path(self.users_path_template.format(cluster_id=cluster_id))


def _generate(session: Any, key: SeedKey) -> None:
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    if key.key_type == "AES":
        session.generate_key(KeyType.AES, key.size, label=key.label, id=key.id, store=True)
    elif key.key_type == "RSA":
        session.generate_keypair(KeyType.RSA, key.size, label=key.label, id=key.id, store=True)
    elif key.key_type == "EC":
        curve = {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}
        parameters = session.create_domain_parameters(KeyType.EC, curve, local=True)
        parameters.generate_keypair(label=key.label, id=key.id, store=True)
    else:
        raise ValueError(f"cannot seed {key.key_type} keys")


def _secret_key(session: Any, label: str) -> Any:
    from pkcs11 import ObjectClass

    return session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)


def _user_list_json(users: tuple[tuple[str, str], ...]) -> str:
    """The shape `cloudhsm-cli user list` prints."""
    return json.dumps(
        {
            "error_code": 0,
            "data": {
                "users": [
                    {
                        "username": name,
                        "role": role,
                        "locked": "false",
                        "mfa": [],
                        "quorum": [],
                        "cluster-coverage": "full",
                    }
                    for name, role in users
                ]
            },
        },
        indent=2,
    )
