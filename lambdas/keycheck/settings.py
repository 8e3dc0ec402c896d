"""The key-verification functions' environment: written by the stack
(stacks/constructs/keycheck/key_verification.py), read back by the handlers."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from lambdas.keycheck.hsm import CLOUDHSM_LIBRARY

DEFAULT_CANARY_LABEL = "hsmdr-canary"
USERS_FROM_CLI = "cloudhsm-cli"
USERS_FROM_FILE = "file:"  # followed by a path template, e.g. file:/data/{cluster_id}.json


class KeyEnv:
    # Names of environment variables, not secrets (hence the S105 waivers).
    MANIFEST_BUCKET = "HSMDR_KEY_MANIFEST_BUCKET"
    CRYPTO_USER_SECRET = "HSMDR_CRYPTO_USER_SECRET"  # noqa: S105
    CANARY_LABEL = "HSMDR_CANARY_KEY_LABEL"
    CLUSTERS = "HSMDR_KEY_CLUSTERS"
    PKCS11_LIBRARY = "HSMDR_PKCS11_LIBRARY"
    TOKEN_LABEL = "HSMDR_PKCS11_TOKEN_LABEL"  # noqa: S105
    CONFIGURE_CLIENT = "HSMDR_CONFIGURE_CLOUDHSM_CLIENT"
    USERS_SOURCE = "HSMDR_USERS_SOURCE"
    # A DR region's verifier: the manifest bucket is the deployment region's, named by
    # an SSM parameter there (the bucket's name is CloudFormation's, unknown to this stack).
    MANIFEST_BUCKET_PARAMETER = "HSMDR_KEY_MANIFEST_BUCKET_PARAMETER"
    MANIFEST_REGION = "HSMDR_KEY_MANIFEST_REGION"
    # The recovery account's verifier: the deployment whose vault clusters its capture
    # reads (only clusters tagged as that deployment's vault clusters).
    VAULT_DEPLOYMENT = "HSMDR_KEY_VAULT_DEPLOYMENT"


class KeySettingsError(RuntimeError):
    """The function's environment is not what the stack writes: a deployment defect."""


@dataclass(frozen=True)
class KeyCluster:
    """A cluster whose manifest the scheduled capture takes."""

    id: str
    region: str


@dataclass(frozen=True)
class KeyCheckSettings:
    manifest_bucket: str
    crypto_user_secret: str
    clusters: tuple[KeyCluster, ...] = ()
    canary_label: str = DEFAULT_CANARY_LABEL
    library_path: str = CLOUDHSM_LIBRARY
    # None: the first token (CloudHSM shows one); may name the cluster: "{cluster_id}"
    token_label: str | None = None
    # AWS: run configure-pkcs11/-cli for the target cluster before each run. The
    # sandbox's SoftHSM needs no configuring.
    configure_client: bool = True
    users_source: str = USERS_FROM_CLI
    # A DR region's verifier: where to read the manifest bucket's name (manifest_bucket
    # is then empty) and that bucket's region.
    manifest_bucket_parameter: str | None = None
    manifest_region: str | None = None
    # The recovery account's verifier (stacks/constructs/keycheck/vault_verifier.py):
    # its capture takes only vault clusters of this deployment, filed under the
    # production cluster whose backup each holds.
    vault_deployment: str | None = None

    def token_label_for(self, cluster_id: str) -> str | None:
        return None if self.token_label is None else self.token_label.format(cluster_id=cluster_id)

    def to_env(self) -> dict[str, str]:
        env = {
            KeyEnv.MANIFEST_BUCKET: self.manifest_bucket,
            KeyEnv.CRYPTO_USER_SECRET: self.crypto_user_secret,
            KeyEnv.CLUSTERS: json.dumps(
                [{"id": c.id, "region": c.region} for c in self.clusters], separators=(",", ":")
            ),
            KeyEnv.CANARY_LABEL: self.canary_label,
            KeyEnv.PKCS11_LIBRARY: self.library_path,
            KeyEnv.CONFIGURE_CLIENT: "true" if self.configure_client else "false",
            KeyEnv.USERS_SOURCE: self.users_source,
        }
        if self.token_label is not None:
            env[KeyEnv.TOKEN_LABEL] = self.token_label
        if self.manifest_bucket_parameter is not None:
            env[KeyEnv.MANIFEST_BUCKET_PARAMETER] = self.manifest_bucket_parameter
        if self.manifest_region is not None:
            env[KeyEnv.MANIFEST_REGION] = self.manifest_region
        if self.vault_deployment is not None:
            env[KeyEnv.VAULT_DEPLOYMENT] = self.vault_deployment
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyCheckSettings:
        environ = os.environ if environ is None else environ
        try:
            settings = cls(
                manifest_bucket=environ[KeyEnv.MANIFEST_BUCKET],
                crypto_user_secret=environ[KeyEnv.CRYPTO_USER_SECRET],
                clusters=tuple(
                    KeyCluster(id=str(c["id"]), region=str(c["region"]))
                    for c in json.loads(environ.get(KeyEnv.CLUSTERS) or "[]")
                ),
                canary_label=environ.get(KeyEnv.CANARY_LABEL, DEFAULT_CANARY_LABEL),
                library_path=environ.get(KeyEnv.PKCS11_LIBRARY, CLOUDHSM_LIBRARY),
                token_label=environ.get(KeyEnv.TOKEN_LABEL) or None,
                configure_client=environ.get(KeyEnv.CONFIGURE_CLIENT, "true") == "true",
                users_source=environ.get(KeyEnv.USERS_SOURCE, USERS_FROM_CLI),
                manifest_bucket_parameter=environ.get(KeyEnv.MANIFEST_BUCKET_PARAMETER) or None,
                manifest_region=environ.get(KeyEnv.MANIFEST_REGION) or None,
                vault_deployment=environ.get(KeyEnv.VAULT_DEPLOYMENT) or None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise KeySettingsError(f"key verification environment is incomplete: {error}") from (
                error
            )
        if settings.users_source != USERS_FROM_CLI and not settings.users_source.startswith(
            USERS_FROM_FILE
        ):
            raise KeySettingsError(f"{KeyEnv.USERS_SOURCE}: {settings.users_source!r} is unknown")
        if not settings.manifest_bucket and settings.manifest_bucket_parameter is None:
            raise KeySettingsError(
                f"{KeyEnv.MANIFEST_BUCKET} is empty and {KeyEnv.MANIFEST_BUCKET_PARAMETER} unset"
            )
        return settings
