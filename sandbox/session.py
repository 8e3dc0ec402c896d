"""The embedded sandbox: moto + the CloudHSM emulator + the synthesized stack.

    with Sandbox() as sandbox:            # deploys every stack `app.synth()` produces
        sandbox.seed_protected_clusters()
        result = sandbox.fire(VERIFY_BACKUPS)

The main stack deploys into the config's region, each DR-region stack into its own
region, in the deployment's emulated account; with `recovery_account`, the vault
stack deploys into that account and region (`stack_accounts`, `stack_regions`). Each
account has its own CloudHSM world (`Sandbox.worlds`; `Sandbox.world` is the
deployment's) and its own moto state; every call is made in its caller's account.

Nothing here touches AWS: credentials are fake and every call stays in-process.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sandbox.network import RegionNetwork, create_network
from stacks.config import DeploymentConfig, load_config
from stacks.names import dr_stack_name, vault_stack_name

if TYPE_CHECKING:
    from sandbox.emulator import CloudHsmWorld, DurationProfile
    from sandbox.runner import Deployment

Template = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CONFIG = REPO_ROOT / "config" / "sandbox.yaml"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# A seeded cluster's backup history: the daily backups of the last few days.
# The sandbox's customerCA.crt (a placeholder: nothing verifies it).
TRUST_ANCHOR = "-----BEGIN CERTIFICATE-----\nsandbox customerCA\n-----END CERTIFICATE-----\n"
SEEDED_BACKUP_AGES = tuple(timedelta(hours=h) for h in (2, 26, 50, 74, 98, 122, 146))
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon in the sandbox
    "POWERTOOLS_DEV": "false",
}


@dataclass
class Clock:
    """How fast the sandboxes opened under `speed(...)` run, and those sandboxes' worlds
    (their emulated durations stay readable after the sandbox closed)."""

    speed: str
    worlds: list[CloudHsmWorld] = field(default_factory=list)


_CLOCK: ContextVar[Clock | None] = ContextVar("sandbox_clock", default=None)


@contextmanager
def speed(name: str) -> Iterator[Clock]:
    """Every sandbox opened inside, without a profile of its own, runs at `name`: "demo"
    (seconds) or "realistic" (AWS's durations on a clock 120x faster than the wall)."""
    from sandbox.emulator import SPEEDS

    if name not in SPEEDS:
        raise ValueError(f"speed: {name!r} is not one of {sorted(SPEEDS)}")
    clock = Clock(name)
    token = _CLOCK.set(clock)
    try:
        yield clock
    finally:
        _CLOCK.reset(token)


def resolve_profile(name: str | None) -> DurationProfile:
    """A profile by name (emulator.PROFILES or a speed); None: the current speed's."""
    from sandbox.emulator import PROFILES, SPEEDS

    if name is None:
        clock = _CLOCK.get()
        return SPEEDS[clock.speed if clock else "demo"]
    if name in PROFILES:
        return PROFILES[name]
    if name in SPEEDS:
        return SPEEDS[name]
    raise ValueError(f"profile: {name!r} is not one of {sorted({*PROFILES, *SPEEDS})}")


def opened_world(world: CloudHsmWorld) -> CloudHsmWorld:
    """Note a world in the current `speed(...)` clock, if any, for its report."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.worlds.append(world)
    return world


class FaultError(ValueError):
    """A --fault value that names no fault, has a bad parameter, or cannot fire in this run."""


@dataclass(frozen=True)
class FaultSpec:
    name: str
    argument: str | None = None

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        name, _, argument = text.partition(":")
        return cls(name.strip(), argument.strip() or None)

    @property
    def text(self) -> str:
        """As given on the command line (`name` or `name:argument`)."""
        return self.name + (f":{self.argument}" if self.argument else "")


# Faults that mean nothing more when given twice, and why. The others add up: two
# hsm-degraded make two DEGRADED HSMs, two hsm-failure fail two HSMs, two
# internal-failure fail two calls; az-unsupported and lambda-crash take one zone or
# step each.
_ONCE_ONLY = {
    "throttle": "it is a burst of throttled calls; a second one would only lengthen it",
    "backup-stuck": "it is on or off for the whole run",
    "copy-fails": "it is on or off for the whole run",
    "backups-stopped": "it is on or off for the whole run",
    "key-missing": "it is on or off for the whole run",
    "key-corrupt": "it is on or off for the whole run",
    "bad-pin": "it is on or off for the whole run",
    "az-unsupported": "name another zone for a second one (az-unsupported:ZONE)",
    "lambda-crash": "the function already crashes there on every invocation",
}
_NEEDS_KEY_STORE = "it damages keys, which only a run with a key store holds " + (
    "(hsmdr sandbox drill, hsmdr sandbox verify-keys)"
)


def synthesize(config_path: Path) -> dict[str, Template]:
    """Every CloudFormation template that `cdk synth -c config=PATH` would produce, by
    stack name: the main stack and one stack per DR region."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from stacks.app_builder import build_app

    app, _ = build_app(load_config(config_path))
    return {stack.stack_name: stack.template for stack in app.synth().stacks}


DEFAULT_ACCOUNT = "123456789012"  # moto's default account


def stack_regions(config: DeploymentConfig) -> dict[str, str]:
    """Where each stack of the app deploys, by stack name."""
    regions = {config.deployment_name: config.region}
    regions.update({dr_stack_name(config.deployment_name, r): r for r in config.dr_regions})
    vault = getattr(config, "recovery_account", None)
    if vault is not None:
        regions[vault_stack_name(config.deployment_name)] = vault.vault_region(config.region)
    return regions


def stack_accounts(config: DeploymentConfig) -> dict[str, str]:
    """The emulated account each stack of the app deploys into, by stack name: the
    deployment's `account` (moto's default without one), the vault stack the recovery
    account's."""
    home = config.account or DEFAULT_ACCOUNT
    accounts = dict.fromkeys(stack_regions(config), home)
    vault = getattr(config, "recovery_account", None)
    if vault is not None:
        accounts[vault_stack_name(config.deployment_name)] = vault.account
    return accounts


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value
            else:
                with suppress(KeyError):  # see lambda_dispatch._function_environment
                    del os.environ[key]


@contextmanager
def emulated_account(world: CloudHsmWorld) -> Iterator[CloudHsmWorld]:
    """An AWS account that boto3's normal credential chain reaches, all in-process:
    fake credentials, moto, and the CloudHSM emulator serving `cloudhsmv2`."""
    from moto import mock_aws

    from sandbox.emulator import install

    with _environment(_FAKE_CREDENTIALS), mock_aws(config=MOTO_CONFIG), install(world):
        yield world


@contextmanager
def _quiet_interpreter() -> Iterator[None]:
    # moto's Step Functions interpreter logs every caught task failure as an error with
    # its whole state; the execution history and the report already say what failed.
    import logging

    noisy = logging.getLogger("moto.stepfunctions.parser")
    level = noisy.level
    noisy.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        noisy.setLevel(level)


class Sandbox:
    def __init__(
        self,
        config_path: Path = SANDBOX_CONFIG,
        *,
        profile: str | None = None,
        template: Template | None = None,
        templates: Mapping[str, Template] | None = None,
        key_store: bool = False,
        enforce_permissions: bool = True,
    ) -> None:
        """`profile`: the emulator's durations by name (None: the current `speed`'s,
        demo outside one). `templates` (by stack name) are deployed as given;
        `template` alone is the main stack's and deploys nothing else; with neither,
        the app is synthesized.
        `key_store`: back every cluster with a SoftHSM2 token and point the deployed
        key-verification functions at them (sandbox/key_store_setup.py).
        `enforce_permissions`: authorize every call of a deployed function, state
        machine, schedule, alarm or rule as AWS would (sandbox/permissions); off only to
        compare with what the stack would do if IAM allowed everything."""
        self.config_path = config_path
        self.config: DeploymentConfig = load_config(config_path)
        self.profile = resolve_profile(profile)
        self._templates: dict[str, Template] | None = None
        if templates is not None:
            self._templates = dict(templates)
        elif template is not None:
            self._templates = {self.config.deployment_name: template}
        self._stack = ExitStack()
        self.networks: dict[str, RegionNetwork] = {}  # the deployment's account, by region
        # Every account's networks, by account then region (the deployment's included).
        self.account_networks: dict[str, dict[str, RegionNetwork]] = {}
        self.deployments: dict[str, Deployment] = {}  # by stack name, the main one first
        self._key_store = key_store
        self._enforce_permissions = enforce_permissions
        self.permissions: Any = None  # the PermissionEnforcer: its denials, calls checked
        self.key_store: Any = None  # the SoftHsmKeyStore, with key_store=True
        self.applied_faults: list[FaultSpec] = []  # every apply_faults, as applied

    def __enter__(self) -> Sandbox:
        from sandbox.emulator import CloudHsmWorld
        from sandbox.runner import TemplateDeployer

        config = self.config
        templates = self._templates or _by_stack(synthesize(self.config_path), config)
        regions = stack_regions(config)
        accounts = stack_accounts(config)
        unknown = sorted(set(templates) - set(regions))
        if unknown or config.deployment_name not in templates:
            raise ValueError(
                f"templates {sorted(templates)} do not match the config's stacks {sorted(regions)}"
            )
        account = accounts[config.deployment_name]
        try:
            from sandbox.permissions import in_account

            self._stack.enter_context(_environment({"AWS_DEFAULT_REGION": config.region}))
            # The sandbox's own calls (networks, seeding, a test's clients) are the
            # deployment's account's, whatever moto's default account is.
            self._stack.enter_context(in_account(account))
            self._stack.enter_context(_quiet_interpreter())
            self.world = opened_world(CloudHsmWorld(profile=self.profile, account_id=account))
            for other in sorted(set(accounts.values()) - {account}):
                self.world.add_account(other)
            self._stack.enter_context(emulated_account(self.world))
            from sandbox.permissions import (
                PermissionEnforcer,
                enforcing,
                principals_follow_executions,
            )

            self.permissions = PermissionEnforcer(account, self.world)
            if self._enforce_permissions:
                self._stack.enter_context(enforcing(self.permissions))
            else:  # executions still act as their role, so call in their account
                self._stack.enter_context(principals_follow_executions())
            for region in sorted({config.region, *config.dr_regions, *self._cluster_regions()}):
                zones = [
                    z
                    for c in config.protected_clusters
                    if c.region == region
                    for z in c.hsms_per_az
                ]
                self.networks[region] = create_network(region, zones)
            self.account_networks[account] = self.networks
            vault_subnets = _vault_subnets(config)
            for stack_name, other in sorted(accounts.items()):
                if other != account:  # a VPC where that account's stack runs
                    region = regions[stack_name]
                    with in_account(other):
                        networks = self.account_networks.setdefault(other, {})
                        if region not in networks:
                            wanted = len(vault_subnets.get(region, []))
                            zones = [f"{region}{letter}" for letter in "abcdef"[:wanted]]
                            networks[region] = create_network(region, zones)
            templates = _vault_in_sandbox_subnets(
                templates, config, self.account_networks, vault_subnets
            )
            if self._key_store:
                from sandbox.key_store_setup import use_softhsm

                templates = use_softhsm(self, self._stack, templates, regions, accounts)
            from sandbox.standby_subnets import standby_in_sandbox_subnets

            templates = standby_in_sandbox_subnets(templates, regions, self.networks)
            main_first = sorted(templates, key=lambda name: name != config.deployment_name)
            for stack_name in main_first:
                deployment = TemplateDeployer(
                    templates[stack_name],
                    region=regions[stack_name],
                    account_id=accounts[stack_name],
                    stack_name=stack_name,
                ).deploy()
                self._stack.callback(deployment.close)
                self.deployments[stack_name] = deployment
            self.deployment = self.deployments[config.deployment_name]
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

    @property
    def worlds(self) -> dict[str, CloudHsmWorld]:
        """Every emulated account's CloudHSM world, by account id."""
        return self.world.worlds

    def dr_deployment(self, region: str) -> Deployment:
        """The stack deployed into DR region `region`."""
        name = dr_stack_name(self.config.deployment_name, region)
        if name not in self.deployments:
            raise KeyError(
                f"no DR stack deployed for {region} (deployed: {sorted(self.deployments)})"
            )
        return self.deployments[name]

    # Seeding ------------------------------------------------------------------

    def seed_protected_clusters(
        self,
        backup_ages: Iterable[timedelta] = SEEDED_BACKUP_AGES,
        *,
        dr_copies: bool = True,
        trust_anchor: bool = True,
    ) -> list[str]:
        """Create every protected cluster as it would exist in production: with
        `dr_copies`, each DR region also holds a tagged READY copy of every seeded backup,
        as the daily copy job leaves them; with `trust_anchor`, customerCA.crt is stored
        where restore.trust_anchor_parameter says, as done at initialization."""
        if trust_anchor:
            self.seed_trust_anchor()
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
            if dr_copies:
                self._seed_copies(cluster_id, spec.region)
        return seeded

    def seed_trust_anchor(self) -> str | None:
        name = self.config.restore.trust_anchor_parameter
        if name:
            import boto3

            boto3.client("ssm", region_name=self.config.region).put_parameter(
                Name=name, Value=TRUST_ANCHOR, Type="String", Overwrite=True
            )
        return name

    def _seed_copies(self, cluster_id: str, home: str) -> None:
        from lambdas.shared.copies import copy_tags
        from lambdas.shared.models import Backup

        backups = [b for b in self.world.backups(home) if b.get("ClusterId") == cluster_id]
        for region in self.config.dr_regions:
            if region == home:
                continue
            for raw in backups:
                tags = copy_tags(self.config.deployment_name, Backup.from_api(raw))
                self.world.seed_copy(raw["BackupId"], region, tags=tags)

    # Faults -------------------------------------------------------------------

    def apply_faults(
        self,
        faults: Iterable[str],
        *,
        region: str | None = None,
        unusable: Mapping[str, str] | None = None,
    ) -> list[FaultSpec]:
        """Turn on faults by name (`name` or `name:argument`), checking all first.

        `region` is where the run creates HSMs (default: the first protected cluster's):
        `az-unsupported` without a zone takes that region's first zone, the one a run
        there uses first, and a zone elsewhere is refused. `unusable` names faults that
        cannot fire in the run at hand, with why. Returns the faults as applied (default
        zone and cluster filled in), in the form `faults_fired` reports them."""
        target = region or self.config.protected_clusters[0].region
        blocked = dict(unusable or {})
        specs = [self._checked_fault(FaultSpec.parse(f), target, blocked) for f in faults]
        self._check_repeats(specs)
        degraded = sum(s.name == "hsm-degraded" for s in specs)
        failures = sum(s.name == "internal-failure" for s in specs)
        if degraded:
            self.world.faults.enable("hsm-degraded", count=degraded)
        if failures:
            self.world.faults.enable("internal-failure", count=failures)
        for spec in specs:
            if spec.name == "lambda-crash":
                assert spec.argument is not None
                function, _, step = spec.argument.partition("@")
                # The same function runs in every stack that deploys it (restore-cluster
                # in the main and each DR stack): crash it wherever the run calls it.
                for deployment in self._deployments_with(function):
                    deployment.crash_function(function, step=step or None)
            elif spec.name == "az-unsupported":
                self.world.faults.enable("az-unsupported", az=spec.argument)
            elif spec.name == "hsm-failure":
                self.world.faults.enable("hsm-failure", cluster_id=spec.argument)
            elif spec.name not in ("hsm-degraded", "internal-failure"):
                self.world.faults.enable(spec.name)
        self.applied_faults += specs
        return specs

    def permissions_report(self) -> dict[str, Any]:
        """What IAM, resource policies, key policies and security groups refused during
        the run, measured by the enforcer (empty when every call was allowed)."""
        denied = [] if self.permissions is None else self.permissions.denials
        return {
            "calls_authorized": 0 if self.permissions is None else self.permissions.checked,
            "denied_calls": [
                {"operation": d.operation, "principal": d.principal, "message": d.message}
                for d in denied
            ],
            "network_refusals": []
            if self.permissions is None
            else list(self.permissions.network_refusals),
        }

    def faults_fired(self) -> dict[str, Any]:
        """What the faults did, measured: `faults` lists the applied ones (defaults
        filled in), `faults_fired` counts each fault's triggers (an HSM made DEGRADED, a
        call failed, an invocation crashed), the applied ones with 0 when they never
        fired, and `faults_not_fired` lists those."""
        fired: dict[str, int] = dict(self.world.faults.fired())
        for deployment in self.deployments.values():
            services = {
                f.function_name: f.service_name or f.logical_id for f in deployment.functions
            }
            for (function_name, step), count in deployment.faults.fired().items():
                key = f"lambda-crash:{services.get(function_name, function_name)}"
                key += f"@{step}" if step else ""
                fired[key] = fired.get(key, 0) + count
        requested = list(dict.fromkeys(s.text for s in self.applied_faults))
        for key in requested:
            fired.setdefault(key, 0)
        return {
            "faults": [s.text for s in self.applied_faults],
            "faults_fired": fired,
            "faults_not_fired": [key for key in requested if not fired[key]],
        }

    def _checked_fault(
        self, spec: FaultSpec, region: str, unusable: Mapping[str, str]
    ) -> FaultSpec:
        """The fault with its defaults filled in, or FaultError saying why it cannot run."""
        from sandbox.emulator import FAULT_NAMES
        from sandbox.emulator.faults import KEY_FAULTS

        if spec.name != "lambda-crash" and spec.name not in FAULT_NAMES:
            known = ", ".join([*sorted(FAULT_NAMES), "lambda-crash:FUNCTION[@STEP]"])
            raise FaultError(f"--fault {spec.name!r} is not a fault; known: {known}")
        if spec.name in unusable:
            raise FaultError(f"--fault {spec.text}: cannot fire in this run: {unusable[spec.name]}")
        if spec.name in KEY_FAULTS and not self._key_store:
            raise FaultError(f"--fault {spec.text}: cannot fire in this run: {_NEEDS_KEY_STORE}")
        if spec.name == "lambda-crash":
            return self._checked_crash(spec)
        if spec.name == "az-unsupported":
            return FaultSpec(spec.name, self._checked_zone(spec, region))
        if spec.name == "hsm-failure":
            return FaultSpec(spec.name, self._checked_failing_cluster(spec))
        if spec.argument:
            raise FaultError(f"--fault {spec.name} takes no argument (got {spec.argument!r})")
        return spec

    def _checked_crash(self, spec: FaultSpec) -> FaultSpec:
        if not spec.argument or not spec.argument.partition("@")[0]:
            raise FaultError(
                "--fault lambda-crash needs the function: lambda-crash:FUNCTION "
                "or lambda-crash:FUNCTION@STEP"
            )
        function, at, step = spec.argument.partition("@")
        deployments = self._deployments_with(function)
        if not deployments:
            known = sorted(
                {
                    f.service_name or f.logical_id
                    for d in self.deployments.values()
                    for f in d.functions
                }
            )
            raise FaultError(
                f"--fault {spec.text}: no deployed function is called {function!r}; "
                f"known: {', '.join(known)}"
            )
        service = deployments[0].function(function).service_name or function
        if at:
            steps = sorted(
                {
                    s
                    for d in deployments
                    for s in _invoked_steps(d, d.function(function).function_arn)
                }
            )
            if not steps:
                raise FaultError(
                    f"--fault {spec.text}: {service} is not invoked step by step: "
                    f"drop @{step} to crash every invocation"
                )
            if step not in steps:
                raise FaultError(
                    f"--fault {spec.text}: no state machine invokes {service} with step "
                    f"{step!r}; its steps: {', '.join(steps)}"
                )
        return FaultSpec(spec.name, service + (f"@{step}" if at else ""))

    def _checked_zone(self, spec: FaultSpec, region: str) -> str:
        network = self.networks.get(region)
        if network is None:
            raise FaultError(f"--fault {spec.text}: the sandbox has no network in {region}")
        zones = sorted(network.subnets)
        if spec.argument is None:
            return zones[0]  # the zone a run in the region uses first (subnets in zone order)
        if spec.argument in zones:
            return spec.argument
        elsewhere = [r for r, n in self.networks.items() if spec.argument in n.subnets]
        where = (
            f"it is in {elsewhere[0]}, but this run creates HSMs in {region}"
            if elsewhere
            else "the sandbox has no such Availability Zone"
        )
        raise FaultError(
            f"--fault {spec.text}: {where}; zones this run can use: {', '.join(zones)}"
        )

    def _checked_failing_cluster(self, spec: FaultSpec) -> str:
        cluster_id = spec.argument or self.config.protected_clusters[0].id
        try:
            hsms = self.world.hsms(cluster_id)
        except KeyError:
            raise FaultError(
                f"--fault {spec.text}: the sandbox holds no cluster {cluster_id}"
            ) from None
        if not any(h["State"] == "ACTIVE" for h in hsms):
            raise FaultError(f"--fault {spec.text}: {cluster_id} has no ACTIVE HSM to fail")
        return cluster_id

    def _check_repeats(self, specs: list[FaultSpec]) -> None:
        from collections import Counter

        for text, count in Counter(s.text for s in specs).items():
            name = FaultSpec.parse(text).name
            if count > 1 and name in _ONCE_ONLY:
                raise FaultError(f"--fault {text} is given {count} times: {_ONCE_ONLY[name]}")
        failing = Counter(s.argument for s in specs if s.name == "hsm-failure")
        for cluster_id, count in failing.items():
            assert cluster_id is not None
            active = sum(h["State"] == "ACTIVE" for h in self.world.hsms(cluster_id))
            if count > active:
                raise FaultError(
                    f"--fault hsm-failure:{cluster_id} is given {count} times but the "
                    f"cluster has {active} ACTIVE HSM(s)"
                )

    def _deployments_with(self, function: str) -> list[Deployment]:
        from sandbox.results import SandboxLookupError

        found = []
        for deployment in self.deployments.values():
            try:
                deployment.function(function)
            except SandboxLookupError:
                continue
            found.append(deployment)
        return found

    # Running ------------------------------------------------------------------

    def fire(self, schedule: str) -> Any:
        return self.deployment.fire_schedule(schedule)

    def messages(self) -> list[Any]:
        return list(self.deployment.messages())


def _vault_subnets(config: DeploymentConfig) -> dict[str, list[str]]:
    """`recovery_account.subnets` ({region: [subnet ids]}), empty without a vault."""
    vault = getattr(config, "recovery_account", None)
    return {} if vault is None else {r: list(ids) for r, ids in vault.subnets.items()}


def _vault_in_sandbox_subnets(
    templates: Mapping[str, Template],
    config: DeploymentConfig,
    account_networks: Mapping[str, Mapping[str, RegionNetwork]],
    vault_subnets: Mapping[str, list[str]],
) -> dict[str, Template]:
    """The vault stack's template with every configured `recovery_account.subnets` id
    replaced by a subnet of the sandbox's VPC in the recovery account (same region, in
    zone order), wherever the template holds it: the ids of a real config exist in no
    emulated account, and CreateCluster must refuse unknown subnets."""
    vault = getattr(config, "recovery_account", None)
    name = vault_stack_name(config.deployment_name)
    if vault is None or name not in templates:
        return dict(templates)
    networks = account_networks.get(vault.account, {})
    text = json.dumps(templates[name])
    for region, configured in vault_subnets.items():
        network = networks.get(region)
        if network is None:
            continue  # no stack of the recovery account runs there: left as configured
        sandbox_ids = [network.subnets[zone] for zone in sorted(network.subnets)]
        for configured_id, sandbox_id in zip(configured, sandbox_ids, strict=False):
            text = re.sub(
                rf"(?<![0-9a-z-]){re.escape(configured_id)}(?![0-9a-z])", sandbox_id, text
            )
    return {**templates, name: json.loads(text)}


def _invoked_steps(deployment: Deployment, function_arn: str) -> set[str]:
    """The `step` values the deployed state machines invoke this function with."""
    steps: set[str] = set()
    for resource in deployment.resources.values():
        if resource.resource_type == "AWS::StepFunctions::StateMachine":
            definition = resource.properties.get("DefinitionString")
            if isinstance(definition, str):
                _collect_steps(json.loads(definition), function_arn, steps)
    return steps


def _collect_steps(node: Any, function_arn: str, steps: set[str]) -> None:
    """Walks a definition (states, Parallel branches, Map processors) for the tasks that
    invoke the function: `Resource` its ARN with the payload as `Parameters`, or
    `lambda:invoke` with it as `FunctionName` and the payload under `Payload`."""
    if isinstance(node, dict):
        parameters = node.get("Parameters")
        if isinstance(parameters, dict):
            payload: Any = None
            if node.get("Resource") == function_arn:
                payload = parameters
            elif parameters.get("FunctionName") == function_arn:
                payload = parameters.get("Payload")
            if isinstance(payload, dict) and isinstance(payload.get("step"), str):
                steps.add(payload["step"])
        for value in node.values():
            _collect_steps(value, function_arn, steps)
    elif isinstance(node, list):
        for value in node:
            _collect_steps(value, function_arn, steps)


def _by_stack(synthesized: Mapping[str, Any], config: DeploymentConfig) -> dict[str, Template]:
    """`synthesize()`'s result; a lone template (as older callers give) is the main stack."""
    if "Resources" in synthesized:
        return {config.deployment_name: dict(synthesized)}
    return {name: dict(template) for name, template in synthesized.items()}
