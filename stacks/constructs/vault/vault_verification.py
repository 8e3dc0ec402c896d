"""The vault verification (vault stack): hourly, vault age against the objective,
failed refreshes, production gone silent, vault clusters holding an HSM; findings page
on the vault stack's own topic (lambdas/vault/checks.py)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.shared import runbooks
from lambdas.vault.settings import (
    VAULT_ALERT_MEMORY_TABLE,
    VAULT_PAGE_TOPIC_ARN,
    VAULT_STATE_MACHINE_ARN,
)
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.scheduled_job import ScheduledJob
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.vault.settings import vault_settings
from stacks.nag import acknowledge
from stacks.names import VERIFY_VAULT, vault_refresh_state_machine_name

VERIFY_SCHEDULE = "rate(1 hour)"


class VaultVerification(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, alerting: Alerting
    ) -> None:
        super().__init__(scope, construct_id)
        # By name: an ARN reference would tie this function to the refresh state machine.
        state_machine = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=vault_refresh_state_machine_name(config.deployment_name),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.lambda_ = PythonFunction(
            self,
            "VerifyVault",
            config=config,
            service_name=VERIFY_VAULT,
            handler="lambdas.vault.verify_handler.handler",
            description="Checks the recovery-account vault: age, refreshes, production's shares",
            environment={
                **vault_settings(config).to_env(),
                VAULT_PAGE_TOPIC_ARN: alerting.topic.topic_arn,
                VAULT_STATE_MACHINE_ARN: state_machine,
                VAULT_ALERT_MEMORY_TABLE: alerting.memory.table_name,
            },
            timeout=Duration.minutes(2),
        )
        function = self.lambda_.function
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudhsm:DescribeBackups", "cloudhsm:DescribeClusters"], resources=["*"]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:ListExecutions"], resources=[state_machine])
        )
        alerting.grant_alerts(function)  # the page topic, its key, the alert memory
        alerting.grant_publish_key(function)
        acknowledge(
            self.lambda_.role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeBackups/DescribeClusters and X-Ray trace writes support no "
            "resource-level permissions.",
        )
        self.job = ScheduledJob(
            self,
            "Job",
            function=function,
            expression=VERIFY_SCHEDULE,
            timezone=config.schedules.timezone,
            description=f"{config.deployment_name}: verify the recovery-account vault",
            alerting=alerting,
            what_fails=(
                "The vault verification failed (crashed or timed out), so nobody is told if "
                "the vault goes stale or production stops sharing"
            ),
            next_step=f"Open its log group {self.lambda_.log_group.log_group_name}",
            runbook=runbooks.VAULT,
        )
