"""`hsmdr sandbox verify-keys`: a restore checked key by key, against real PKCS#11.

The emulated cluster is backed by a SoftHSM2 token (sandbox/softhsm_keystore.py), and
the verifier's own code runs against it, as the Lambda functions run it:

1. seed the protected cluster (a token with AES, RSA and EC keys, a canary key and
   a user list);
2. capture its key manifest into S3 (capture-key-manifest's code);
3. force a backup the way CloudHSM allows, by adding an HSM (the backup snapshots
   the token);
4. restore: CreateCluster(SourceBackupId) and CreateHsm (the new HSM restores the
   snapshot into a token of the new cluster, damaged as the faults ask);
5. check the restored cluster against the manifest of the backup's time
   (verify-keys' code) and report its findings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sandbox.session import (
    SANDBOX_CONFIG,
    FaultError,
    FaultSpec,
    _environment,
    emulated_account,
    opened_world,
    resolve_profile,
)

MANIFEST_BUCKET = "hsmdr-sandbox-key-manifests"
CRYPTO_USER_SECRET = "hsmdr-sandbox/key-verifier"  # noqa: S105 - a secret's name


def verify_keys(faults: Sequence[str] = (), profile: str | None = None) -> dict[str, Any]:
    from sandbox.emulator import FAULT_NAMES, CloudHsmWorld
    from sandbox.emulator.faults import KEY_FAULTS
    from sandbox.softhsm_keystore import SoftHsmKeyStore
    from stacks.config import load_config

    specs = [FaultSpec.parse(f) for f in faults]
    for spec in specs:
        if spec.name not in FAULT_NAMES:
            known = ", ".join(sorted(FAULT_NAMES))
            raise FaultError(f"--fault {spec.name!r} is not a fault; known: {known}")
        if spec.name not in KEY_FAULTS:
            raise FaultError(
                f"--fault {spec.text}: cannot fire in this run, which only restores keys: "
                f"give {', '.join(sorted(KEY_FAULTS))}"
            )
        if spec.argument:
            raise FaultError(f"--fault {spec.name} takes no argument (got {spec.argument!r})")
        if [s.name for s in specs].count(spec.name) > 1:
            raise FaultError(f"--fault {spec.name} is given more than once: it is on or off")
    cluster = load_config(SANDBOX_CONFIG).protected_clusters[0]
    with (
        SoftHsmKeyStore.temporary() as store,
        _environment({"AWS_DEFAULT_REGION": cluster.region, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}),
    ):
        world = opened_world(CloudHsmWorld(profile=resolve_profile(profile)))
        world.key_store = store
        with emulated_account(world), store.environment():
            return _drill(world, store, cluster, [s.name for s in specs])


def _drill(world: Any, store: Any, cluster: Any, faults: list[str]) -> dict[str, Any]:
    import boto3

    from lambdas.keycheck.capture_handler import capture_all
    from lambdas.keycheck.client_setup import read_crypto_user
    from lambdas.keycheck.manifest_store import ManifestStore
    from lambdas.keycheck.settings import KeyCheckSettings, KeyCluster
    from lambdas.keycheck.verify_handler import VerifyKeysRequest, verify
    from sandbox.network import create_network
    from sandbox.softhsm_keystore import CRYPTO_PASSWORD, CRYPTO_USER

    region = cluster.region
    zones = sorted(cluster.hsms_per_az)
    network = create_network(region, zones)
    source = world.seed_cluster(
        region=region,
        subnet_ids=network.subnet_ids(zones),
        cluster_id=cluster.id,
        hsm_type=cluster.hsm_type or "hsm2m.medium",
        mode=cluster.mode or "FIPS",
    )
    boto3.client("s3", region_name=region).create_bucket(Bucket=MANIFEST_BUCKET)
    boto3.client("secretsmanager", region_name=region).create_secret(
        Name=CRYPTO_USER_SECRET,
        SecretString=json.dumps({"username": CRYPTO_USER, "password": CRYPTO_PASSWORD}),
    )
    settings = KeyCheckSettings(
        manifest_bucket=MANIFEST_BUCKET,
        crypto_user_secret=CRYPTO_USER_SECRET,
        clusters=(KeyCluster(source, region),),
        library_path=store.library,
        token_label="{cluster_id}",  # noqa: S106 - SoftHSM2: a token per emulated cluster
        configure_client=False,  # nothing to configure: no CloudHSM client here
        users_source=f"file:{store.users_path_template}",
    )
    captured = capture_all(
        list(settings.clusters),
        [],
        settings,
        read_crypto_user(CRYPTO_USER_SECRET),
        ManifestStore.for_bucket(MANIFEST_BUCKET, region),
    )
    if captured["errors"]:
        return {"status": "FAILED", "step": "capture", **captured}

    hsm = boto3.client("cloudhsmv2", region_name=region)
    # CloudHSM has no backup API: adding an HSM to an active cluster makes one.
    hsm.create_hsm(ClusterId=source, AvailabilityZone=zones[0])
    world.settle()
    backup = max(
        (b for b in world.backups(region) if b.get("ClusterId") == source),
        key=lambda b: b["CreateTimestamp"],
    )
    for name in faults:
        world.faults.enable(name)
    restored = hsm.create_cluster(
        HsmType=backup["HsmType"],
        Mode=backup["Mode"],
        SubnetIds=network.subnet_ids(zones),
        SourceBackupId=backup["BackupId"],
    )["Cluster"]["ClusterId"]
    world.settle()
    hsm.create_hsm(ClusterId=restored, AvailabilityZone=zones[0])
    world.settle()
    created: datetime = backup["CreateTimestamp"]
    report = verify(
        VerifyKeysRequest(
            cluster_id=restored, manifest_cluster_id=source, region=region, at=created
        ),
        settings,
    ).to_dict()
    return {
        **report,
        "source_cluster_id": source,
        "backup_id": backup["BackupId"],
        "backup_created": created.isoformat(),
        "restored_hsms": [h["EniIp"] for h in world.hsms(restored)],
        "manifest": captured["manifests"][0],
        "faults": faults,
        "faults_fired": {name: world.faults.fired().get(name, 0) for name in faults},
        "faults_not_fired": [name for name in faults if not world.faults.fired().get(name)],
    }
