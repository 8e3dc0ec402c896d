"""Builds the CDK app from a deployment config; `app.py` and the tests share it."""

from __future__ import annotations

from aws_cdk import App, Environment

from stacks.config import DeploymentConfig
from stacks.hsmdr_stack import CloudHsmDrStack
from stacks.nag import check_app


def build_app(config: DeploymentConfig, app: App | None = None) -> tuple[App, CloudHsmDrStack]:
    app = app or App()
    stack = CloudHsmDrStack(
        app,
        config.deployment_name,
        config=config,
        env=Environment(account=config.account, region=config.region),
        description="cloudhsm-dr: CloudHSM backup verification and disaster recovery",
    )
    check_app(app)
    return app, stack
