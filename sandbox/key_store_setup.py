"""`Sandbox(key_store=True)`: keys in the sandbox, for the deployed stack's own functions.

- every emulated cluster is backed by a SoftHSM2 token (sandbox/softhsm_keystore.py):
  seeding makes real keys, backups and copies snapshot them, a restored HSM gets them;
- the key-verification functions the stack deploys (container images in AWS, run
  in-process here like every function) are pointed at those tokens instead of the
  CloudHSM client: the SoftHSM2 library, the token named after the cluster, no client
  configuration, and the user list from a file. Everything else in their environment
  (manifest bucket, secret name, canary) is the template's;
- the crypto user's secret, which the operator creates in AWS, is created with the
  sandbox's fixed credentials, in the deployment region and (as the replica the operator
  makes) in each DR region with a verifier of its own (`key_verification.regions`); a DR
  stack's verify-keys function is pointed at the tokens like the main stack's;
- with `recovery_account.key_verification`, the recovery account's operator creates
  that account's own copy of the secret in the vault region (in the recovery account's
  world), and the vault stack's key functions run in the recovery account's subnets.

- a verifier reaches a cluster's token only through security groups that AWS would let
  through (sandbox/network_access.py): its own egress and the cluster group's ingress on
  TCP 2223-2225; otherwise the library answers as one that cannot reach any HSM.

How this differs from AWS: the CloudHSM PKCS#11 library is SoftHSM2's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from lambdas.keycheck.settings import USERS_FROM_FILE, KeyEnv

if TYPE_CHECKING:
    from sandbox.deployment import Deployment
    from sandbox.emulator import CloudHsmWorld
    from sandbox.network import RegionNetwork
    from sandbox.softhsm_keystore import SoftHsmKeyStore
    from stacks.config import DeploymentConfig

Template = dict[str, Any]


class RunningSandbox(Protocol):
    """What this module uses of a running sandbox: sandbox/session.py's Sandbox, which
    sets its key store up through here."""

    key_store: Any  # the SoftHsmKeyStore once use_softhsm has run

    @property
    def config(self) -> DeploymentConfig: ...

    @property
    def world(self) -> CloudHsmWorld: ...

    @property
    def networks(self) -> Mapping[str, RegionNetwork]: ...

    @property
    def account_networks(self) -> Mapping[str, Mapping[str, RegionNetwork]]: ...

    @property
    def permissions(self) -> Any: ...

    @property
    def deployment(self) -> Deployment: ...


def use_softhsm(
    sandbox: RunningSandbox,
    stack: ExitStack,
    templates: Mapping[str, Template],
    regions: Mapping[str, str],
    accounts: Mapping[str, str] | None = None,
) -> dict[str, Template]:
    """Enter a temporary SoftHSM2 key store for the sandbox's lifetime; returns the
    templates (by stack name; `regions` and `accounts` say where each deploys) with the
    key functions pointed at it."""
    from sandbox.softhsm_keystore import SoftHsmKeyStore

    store = stack.enter_context(SoftHsmKeyStore.temporary())
    stack.enter_context(store.environment())
    sandbox.world.key_store = store
    sandbox.key_store = store
    _create_crypto_user_secret(sandbox)
    stack.enter_context(_tokens_behind_security_groups(sandbox))
    accounts = accounts or {}

    def network(name: str) -> Any:
        account = accounts.get(name)
        networks = sandbox.account_networks.get(account, {}) if account else {}
        return networks.get(regions[name]) or sandbox.networks[regions[name]]

    return {
        name: _in_sandbox_subnets(softhsm_functions(t, store), network(name))
        for name, t in templates.items()
    }


def _in_sandbox_subnets(template: Template, network: Any) -> Template:
    """A function's VPC subnets come from the config (placeholders in the sandbox's):
    put the functions that reach HSMs into the sandbox's own subnets of their region,
    so their security groups are judged against real addresses."""
    for resource in template.get("Resources", {}).values():
        vpc = resource.get("Properties", {}).get("VpcConfig")
        if resource.get("Type") == "AWS::Lambda::Function" and vpc and vpc.get("SubnetIds"):
            vpc["SubnetIds"] = [network.subnets[zone] for zone in sorted(network.subnets)][:2]
    return template


@contextmanager
def _tokens_behind_security_groups(sandbox: RunningSandbox) -> Iterator[None]:
    """A deployed function sees a cluster's token only if the network lets it through."""
    from lambdas.keycheck import hsm

    original = hsm.load_library

    def load_library(path: str) -> Any:
        return _RoutedLibrary(original(path), sandbox)

    hsm.load_library = load_library
    try:
        yield
    finally:
        hsm.load_library = original


class _RoutedLibrary:
    """The PKCS#11 library as a function in its VPC sees it."""

    def __init__(self, library: Any, sandbox: RunningSandbox) -> None:
        self._library = library
        self._sandbox = sandbox

    def get_token(self, *, token_label: str) -> Any:
        self._require_route(token_label)
        return self._library.get_token(token_label=token_label)

    def get_slots(self, **kwargs: Any) -> list[Any]:
        """Only the slots whose HSMs the function reaches: a client that reaches none
        lists no token."""
        slots = self._library.get_slots(**kwargs)
        return [s for s in slots if not self._refused(s.get_token().label.strip())]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._library, name)

    def _require_route(self, cluster_id: str) -> None:
        import pkcs11

        reason = self._refused(cluster_id)
        if reason is not None:
            raise pkcs11.exceptions.DeviceError(f"cannot reach an HSM of {cluster_id}: {reason}")

    def _refused(self, cluster_id: str) -> str | None:
        """Why the running function cannot reach the cluster's HSMs (recorded), or None."""
        from sandbox.lambda_dispatch import CURRENT_FUNCTION
        from sandbox.network_access import unreachable_reason

        function = CURRENT_FUNCTION.get()
        if function is None:  # the sandbox itself (seeding, checks): not in a VPC
            return None
        try:
            cluster = self._sandbox.world.cluster(cluster_id)
        except KeyError:
            return None  # no such cluster: the token lookup fails on its own
        hsms = cluster.get("Hsms", [])
        reason = (
            unreachable_reason(
                function.account_id,
                function.region,
                cluster_region=hsms[0]["AvailabilityZone"][:-1] if hsms else function.region,
                function_groups=function.security_group_ids,
                function_subnets=function.subnet_ids,
                cluster_group=cluster["SecurityGroup"],
                hsm_ips=[h["EniIp"] for h in hsms if h.get("EniIp")],
            )
            if hsms
            else "the cluster has no HSM"
        )
        if reason is not None:
            self._sandbox.permissions.network_refusals.append(
                f"{function.function_name} -> {cluster_id}: {reason}"
            )
        return reason


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


def _create_crypto_user_secret(sandbox: RunningSandbox) -> None:
    import boto3

    from sandbox.permissions import in_account
    from sandbox.softhsm_keystore import CRYPTO_PASSWORD, CRYPTO_USER

    secret = json.dumps({"username": CRYPTO_USER, "password": CRYPTO_PASSWORD})
    keys = sandbox.config.key_verification
    if keys is not None:
        # A DR region's verifier reads the secret's replica there, under the same name.
        for region in (sandbox.config.region, *sorted(keys.regions)):
            boto3.client("secretsmanager", region_name=region).create_secret(
                Name=keys.crypto_user_secret_name, SecretString=secret
            )
    vault = sandbox.config.recovery_account
    if vault is not None and vault.key_verification is not None:
        # The recovery account's own copy, made there by its operator: the same crypto
        # user (it travels inside the backup), nothing read from production.
        with in_account(vault.account):
            boto3.client(
                "secretsmanager", region_name=vault.vault_region(sandbox.config.region)
            ).create_secret(
                Name=vault.key_verification.crypto_user_secret_name, SecretString=secret
            )


def seed_manifest(sandbox: RunningSandbox, cluster_id: str, captured_at: datetime) -> str:
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
