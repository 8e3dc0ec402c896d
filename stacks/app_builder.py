"""Builds the CDK app from a deployment config; `app.py` and the tests share it."""

from __future__ import annotations

from aws_cdk import App, Aspects, Environment

from stacks.config import DeploymentConfig
from stacks.constructs.alerting.reader_texts import ReaderTexts
from stacks.dr_region_stack import DrRegionStack
from stacks.hsmdr_stack import CloudHsmDrStack
from stacks.nag import check_app
from stacks.names import dr_stack_name, vault_stack_name
from stacks.vault_stack import VaultStack


def build_app(config: DeploymentConfig, app: App | None = None) -> tuple[App, CloudHsmDrStack]:
    app = app or App()
    stack = CloudHsmDrStack(
        app,
        config.deployment_name,
        config=config,
        env=Environment(account=config.account, region=config.region),
        description="cloudhsm-dr: CloudHSM backup verification and disaster recovery",
    )
    # One stack per DR region, from the same config; the main stack is returned as before
    # and every stack is in the synthesized assembly.
    for region in config.dr_regions:
        DrRegionStack(
            app,
            dr_stack_name(config.deployment_name, region),
            config=config,
            dr_region=region,
            env=Environment(account=config.account, region=region),
            description=f"cloudhsm-dr: what must run in DR region {region} (copy monitor, alerts)",
        )
    vault = config.recovery_account
    if vault is not None:  # the recovery-account vault: another account
        VaultStack(
            app,
            vault_stack_name(config.deployment_name),
            config=config,
            env=Environment(account=vault.account, region=vault.vault_region(config.region)),
            description="cloudhsm-dr: the recovery-account vault of CloudHSM backups",
        )
    # Every alarm description and workflow message: runbook links, `--deployment NAME`.
    Aspects.of(app).add(ReaderTexts(docs_url=config.docs_url, deployment=config.deployment_name))
    check_app(app)
    return app, stack
