"""The embedded sandbox: moto + the CloudHSM emulator + the synthesized stack.

    with Sandbox() as sandbox:            # deploys what `app.synth()` produces
        sandbox.seed_protected_clusters()
        result = sandbox.fire(VERIFY_BACKUPS)

Nothing here touches AWS: credentials are fake and every call stays in-process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sandbox.network import RegionNetwork, create_network
from stacks.config import DeploymentConfig, load_config

if TYPE_CHECKING:
    from sandbox.emulator import CloudHsmWorld

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONFIG = REPO_ROOT / "config" / "sandbox.yaml"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# A seeded cluster's backup history: the daily backups of the last few days.
SEEDED_BACKUP_AGES = tuple(timedelta(hours=h) for h in (2, 26, 50, 74, 98, 122, 146))
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon in the sandbox
    "POWERTOOLS_DEV": "false",
}


class FaultError(ValueError):
    """A --fault value that names no fault or has a bad parameter."""


@dataclass(frozen=True)
class FaultSpec:
    name: str
    argument: str | None = None

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        name, _, argument = text.partition(":")
        return cls(name.strip(), argument.strip() or None)


def synthesize(config_path: Path) -> dict[str, Any]:
    """The CloudFormation template that `cdk synth -c config=PATH` would produce."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.app_builder import build_app

    app, stack = build_app(load_config(config_path))
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def emulated_account(world: CloudHsmWorld) -> Iterator[CloudHsmWorld]:
    """An AWS account that boto3's normal credential chain reaches, all in-process:
    fake credentials, moto, and the CloudHSM emulator serving `cloudhsmv2`."""
    from moto import mock_aws

    from sandbox.emulator import install

    with _environment(_FAKE_CREDENTIALS), mock_aws(config=MOTO_CONFIG), install(world):
        yield world


class Sandbox:
    def __init__(
        self,
        config_path: Path = SANDBOX_CONFIG,
        *,
        profile: str = "demo",
        template: dict[str, Any] | None = None,
    ) -> None:
        from sandbox.emulator import PROFILES

        if profile not in PROFILES:
            raise ValueError(f"profile: {profile!r} is not one of {sorted(PROFILES)}")
        self.config_path = config_path
        self.config: DeploymentConfig = load_config(config_path)
        self.profile = PROFILES[profile]
        self._template = template
        self._stack = ExitStack()
        self.networks: dict[str, RegionNetwork] = {}

    def __enter__(self) -> Sandbox:
        from sandbox.emulator import CloudHsmWorld
        from sandbox.runner import TemplateDeployer

        config = self.config
        template = self._template or synthesize(self.config_path)
        account = config.account or "123456789012"
        try:
            self._stack.enter_context(_environment({"AWS_DEFAULT_REGION": config.region}))
            self.world = CloudHsmWorld(profile=self.profile, account_id=account)
            self._stack.enter_context(emulated_account(self.world))
            for region in sorted({config.region, *config.dr_regions, *self._cluster_regions()}):
                zones = [
                    z
                    for c in config.protected_clusters
                    if c.region == region
                    for z in c.hsms_per_az
                ]
                self.networks[region] = create_network(region, zones)
            self.deployment = TemplateDeployer(
                template,
                region=config.region,
                account_id=account,
                stack_name=config.deployment_name,
            ).deploy()
            self._stack.callback(self.deployment.close)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _cluster_regions(self) -> set[str]:
        return {c.region for c in self.config.protected_clusters}

    # Seeding ------------------------------------------------------------------

    def seed_protected_clusters(
        self, backup_ages: Iterable[timedelta] = SEEDED_BACKUP_AGES
    ) -> list[str]:
        """Create every protected cluster as it would exist in production."""
        ages = tuple(backup_ages)
        seeded = []
        for spec in self.config.protected_clusters:
            network = self.networks[spec.region]
            cluster_id = self.world.seed_cluster(
                region=spec.region,
                subnet_ids=network.subnet_ids(spec.hsms_per_az),
                cluster_id=spec.id,
                hsms_per_subnet=max(spec.hsms_per_az.values()),
                hsm_type=spec.hsm_type or "hsm2m.medium",
                mode=spec.mode or "FIPS",
                backup_ages=ages,
                tags={"Name": spec.name or spec.id},
            )
            seeded.append(cluster_id)
        return seeded

    # Faults -------------------------------------------------------------------

    def apply_faults(self, faults: Iterable[str]) -> list[FaultSpec]:
        """Turn on faults by name (`name` or `name:argument`), checking all first."""
        from sandbox.emulator import FAULT_NAMES

        specs = [FaultSpec.parse(f) for f in faults]
        for spec in specs:
            if spec.name == "lambda-crash":
                if not spec.argument:
                    raise FaultError("--fault lambda-crash needs the function: lambda-crash:STEP")
                self.deployment.function_arn(spec.argument)  # raises for an unknown step
            elif spec.name not in FAULT_NAMES:
                known = ", ".join([*sorted(FAULT_NAMES), "lambda-crash:STEP"])
                raise FaultError(f"--fault {spec.name!r} is not a fault; known: {known}")
        for spec in specs:
            if spec.name == "lambda-crash":
                assert spec.argument is not None
                self.deployment.crash_function(spec.argument)
            else:
                self.world.faults.enable(spec.name, **self._fault_params(spec))
        return specs

    def _fault_params(self, spec: FaultSpec) -> dict[str, Any]:
        first = self.config.protected_clusters[0]
        if spec.name == "az-unsupported":
            return {"az": spec.argument or f"{first.region}c"}
        if spec.name == "hsm-failure":
            return {"cluster_id": spec.argument or first.id}
        if spec.argument:
            raise FaultError(f"--fault {spec.name} takes no argument (got {spec.argument!r})")
        return {}

    # Running ------------------------------------------------------------------

    def fire(self, schedule: str) -> Any:
        return self.deployment.fire_schedule(schedule)

    def messages(self) -> list[Any]:
        return list(self.deployment.messages())
