"""AWS only: point the CloudHSM SDK 5 client in the image at one cluster.

Client SDK 5 needs no daemon; its configure tools write the cluster's HSM
addresses into /opt/cloudhsm/etc. Lambda's file system is read-only outside /tmp,
so the image moves the package's etc/ to etc.dist and links /opt/cloudhsm/etc to
/tmp/cloudhsm/etc (see the Dockerfile); the first run copies etc.dist there.

Before each run the tools are given either the HSMs' ENI IPs (`-a IP...`, what a
drill knows right after CreateHsm) or the cluster id (`--cluster-id`, which calls
cloudhsm:DescribeClusters). The key availability check is disabled: a restored
cluster has one HSM until the drill adds a second (facts page).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.shared.errors import HsmUnreachable

ETC_DIST = Path("/opt/cloudhsm/etc.dist")
ETC_RUNTIME = Path("/tmp/cloudhsm/etc")  # noqa: S108 - Lambda's only writable place
CONFIGURE_TOOLS = ("/opt/cloudhsm/bin/configure-pkcs11", "/opt/cloudhsm/bin/configure-cli")
TRUST_ANCHOR_NAME = "customerCA.crt"  # where SDK 5 looks for the cluster's issuing CA
CONFIGURE_TIMEOUT_SECONDS = 60

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class CryptoUser:
    """The verification crypto user, from its Secrets Manager secret:
    {"username": ..., "password": ..., "customer_ca": "-----BEGIN CERTIFICATE-----..."}
    (customer_ca, the cluster's trust anchor, is optional where the image has one)."""

    username: str
    password: str
    customer_ca: str | None = None

    @property
    def pin(self) -> str:
        return f"{self.username}:{self.password}"  # CloudHSM's PKCS#11 PIN format

    @classmethod
    def from_secret_string(cls, text: str) -> CryptoUser:
        try:
            data = json.loads(text)
            return cls(
                username=str(data["username"]),
                password=str(data["password"]),
                customer_ca=data.get("customer_ca") or None,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                'the crypto user secret must be JSON {"username", "password", "customer_ca"}'
            ) from error


def read_crypto_user(secret_id: str, client: Any | None = None) -> CryptoUser:
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    secret = client.get_secret_value(SecretId=secret_id)["SecretString"]
    return CryptoUser.from_secret_string(secret)


def target_arguments(cluster_id: str, region: str, hsm_ips: Sequence[str]) -> list[str]:
    if hsm_ips:
        return ["-a", *hsm_ips]
    return ["--cluster-id", cluster_id, "--region", region]


def configure_client(
    target: Sequence[str],
    customer_ca: str | None,
    *,
    etc_dist: Path = ETC_DIST,
    etc_runtime: Path = ETC_RUNTIME,
    tools: Sequence[str] = CONFIGURE_TOOLS,
    run: Runner = subprocess.run,
) -> None:
    """Raises HsmUnreachable when a tool fails (no such cluster, no HSM, ...)."""
    if not etc_runtime.exists():
        shutil.copytree(etc_dist, etc_runtime)
    if customer_ca:
        (etc_runtime / TRUST_ANCHOR_NAME).write_text(customer_ca, encoding="utf-8")
    for tool in tools:
        argv = [tool, *target, "--disable-key-availability-check", "--log-type", "term"]
        try:
            done = run(
                argv, capture_output=True, text=True, timeout=CONFIGURE_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise HsmUnreachable(f"{tool} did not run: {error}") from error
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()[:300]
            raise HsmUnreachable(f"{Path(tool).name} {' '.join(target)} failed: {detail}")
