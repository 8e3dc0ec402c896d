"""`Sandbox(key_store=True)`: keys in the sandbox, for the deployed stack's own functions.

- every emulated cluster is backed by a SoftHSM2 token (sandbox/softhsm_keystore.py):
  seeding makes real keys, backups and copies snapshot them, a restored HSM gets them;
- the key-verification functions the stack deploys (container images in AWS, run
  in-process here like every function) are pointed at those tokens instead of the
  CloudHSM client: the SoftHSM2 library, the token named after the cluster, no client
  configuration, and the user list from a file. Everything else in their environment
  (manifest bucket, secret name, canary) is the template's;
- the crypto user's secret, which the operator creates in AWS, is created with the
  sandbox's fixed credentials.

How this differs from AWS: no network between the verifier and the HSMs (security group
rules are created but nothing enforces them), and the CloudHSM PKCS#11 library is
SoftHSM2's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lambdas.keycheck.settings import USERS_FROM_FILE, KeyEnv

if TYPE_CHECKING:
    from sandbox.session import Sandbox
    from sandbox.softhsm_keystore import SoftHsmKeyStore

Template = dict[str, Any]


def use_softhsm(
    sandbox: Sandbox, stack: ExitStack, templates: Mapping[str, Template]
) -> dict[str, Template]:
    """Enter a temporary SoftHSM2 key store for the sandbox's lifetime; returns the
    templates with the key functions pointed at it."""
    from sandbox.softhsm_keystore import SoftHsmKeyStore

    store = stack.enter_context(SoftHsmKeyStore.temporary())
    stack.enter_context(store.environment())
    sandbox.world.key_store = store
    sandbox.key_store = store
    _create_crypto_user_secret(sandbox)
    return {name: softhsm_functions(t, store) for name, t in templates.items()}


def softhsm_functions(template: Template, store: SoftHsmKeyStore) -> Template:
    patched = copy.deepcopy(template)
    for resource in patched.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if KeyEnv.MANIFEST_BUCKET in variables:
            variables.update(
                {
                    KeyEnv.PKCS11_LIBRARY: store.library,
                    KeyEnv.TOKEN_LABEL: "{cluster_id}",  # a token per emulated cluster
                    KeyEnv.CONFIGURE_CLIENT: "false",  # no CloudHSM client to configure
                    KeyEnv.USERS_SOURCE: f"{USERS_FROM_FILE}{store.users_path_template}",
                }
            )
    return patched


def _create_crypto_user_secret(sandbox: Sandbox) -> None:
    import boto3

    from sandbox.softhsm_keystore import CRYPTO_PASSWORD, CRYPTO_USER

    keys = sandbox.config.key_verification
    if keys is None:
        return
    boto3.client("secretsmanager", region_name=sandbox.config.region).create_secret(
        Name=keys.crypto_user_secret_name,
        SecretString=json.dumps({"username": CRYPTO_USER, "password": CRYPTO_PASSWORD}),
    )


def seed_manifest(sandbox: Sandbox, cluster_id: str, captured_at: datetime) -> str:
    """A key manifest of a seeded cluster, as the daily capture would have stored it at
    `captured_at` (pre-existing state, like the seeded backups): the capture function's
    own code, reading the cluster's SoftHSM2 token. Returns the object key."""
    from lambdas.keycheck.manifest_store import ManifestStore
    from lambdas.keycheck.users import FileUserLister
    from lambdas.keycheck.verifier import capture_manifest

    store = sandbox.key_store
    if store is None:
        raise ValueError("seed_manifest needs Sandbox(key_store=True)")
    bucket = sandbox.deployment.physical_id("KeyVerificationManifests")
    manifest = capture_manifest(
        cluster_id,
        store.connection(cluster_id),
        FileUserLister(store.users_path_template),
        now=captured_at,
    )
    return ManifestStore.for_bucket(bucket, sandbox.config.region).save(manifest)
