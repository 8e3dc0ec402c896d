"""The HSM replacement workflow: its step function, state machine and permissions.

CreateHsm is allowed on the protected clusters' ARNs only; DeleteHsm takes no resource
in IAM, so it is allowed in their regions and the code deletes only DEGRADED HSMs its
plan names (lambdas/replacement/replace.py).

Its report (JSON and an HTML page), on success and on failure, goes to the stack's
reports bucket under reports/replacements/: PutObject on that prefix only and the
bucket key's GenerateDataKey/Encrypt.
"""

from __future__ import annotations

import math

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.replacement.report import REPORT_PREFIX
from lambdas.replacement.settings import ReplacementSettings
from lambdas.shared import runbooks
from lambdas.shared.env import Env
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.state_machine import ObservedStateMachine
from stacks.constructs.alerting.stopped_executions import stopped_rule
from stacks.constructs.replacement import workflow as replace_hsm
from stacks.constructs.shared.cluster_locks import ClusterLocks
from stacks.constructs.shared.hsm_permissions import protected_hsm_change_statements
from stacks.constructs.shared.python_function import PythonFunction
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.nag import acknowledge
from stacks.names import REPLACE_HSM, replace_hsm_state_machine_name


def replacement_settings(config: DeploymentConfig) -> ReplacementSettings:
    replacement = config.hsm_replacement
    return ReplacementSettings(
        auto_replace=replacement.auto_replace,
        poll_seconds=replacement.poll_seconds,
        hsm_timeout_minutes=replacement.hsm_timeout_minutes,
        max_attempts=replacement.max_attempts,
        hsms_per_region_quota=config.quotas.hsms_per_region,
    )


def workflow_timeout_minutes(config: DeploymentConfig) -> int:
    """Every attempt may create and discard one HSM, then the delete and the sync wait."""
    replacement = config.hsm_replacement
    return math.ceil((2 * replacement.max_attempts + 2) * replacement.hsm_timeout_minutes) + 30


class HsmReplacementWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        locks: ClusterLocks,
        reports: ReportsBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.lambda_ = PythonFunction(
            self,
            "Steps",
            config=config,
            service_name=REPLACE_HSM,
            handler="lambdas.replacement.handler.handler",
            description="Steps of the CloudHSM single-HSM replacement state machine",
            environment={
                # The alert topics: it pages itself for an execution that was stopped.
                **alerting.alert_settings(config).to_env(),
                **replacement_settings(config).to_env(),
                Env.LOCK_TABLE: locks.table.table_name,
                Env.REPORTS_BUCKET: reports.bucket.bucket_name,
            },
            timeout=Duration.minutes(2),
        )
        function = self.lambda_.function
        role = self.lambda_.role
        role.add_to_policy(
            iam.PolicyStatement(actions=["cloudhsm:DescribeClusters"], resources=["*"])
        )
        # Adding and removing HSMs: only on the clusters this deployment protects.
        for statement in protected_hsm_change_statements(self, config):
            role.add_to_policy(statement)
        locks.grant_take(function)
        alerting.grant_alerts(function)
        reports.grant_write_reports(role, REPORT_PREFIX)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DeleteHsm and X-Ray trace writes support no "
            "resource-level permissions (DeleteHsm is limited to the protected clusters' "
            "regions; the code deletes only DEGRADED HSMs its plan names); the EC2 actions "
            "CloudHSM performs with the caller's permissions for CreateHsm/DeleteHsm act on "
            "network interfaces made at run time and are allowed only through CloudHSM in "
            "those regions; CreateHsm is limited to the protected clusters' ARNs.",
        )

        self.workflow = ObservedStateMachine(
            self,
            "Workflow",
            config=config,
            name=replace_hsm_state_machine_name(config.deployment_name),
            definition=replace_hsm.build(
                self,
                function=function,
                topic=alerting.topic,
                notify_topic=alerting.notify_topic,
                locks=locks.table,
            ),
            timeout=Duration.minutes(workflow_timeout_minutes(config)),
            comment="Replace a failed CloudHSM HSM in its zone: create, wait ACTIVE, delete",
            alerting=alerting,
            invokes=[function],
            when_stopped=(
                "An HSM replacement execution timed out or was aborted: the step function "
                "deletes the DEGRADED HSMs it created, releases its lock and pages with what "
                "exists. Without that page, check the cluster's HSMs (hsmdr cluster health "
                "--config <deployment config> --cluster <cluster id>) and delete only DEGRADED "
                "ones; then hsmdr hsm "
                "replace --config <deployment config> --cluster <cluster id> --follow."
            ),
            runbook=runbooks.SINGLE_HSM_FAILURE,
        )
        state_machine = self.workflow.state_machine
        self.state_machine = state_machine
        self.stopped_rule = stopped_rule(
            self,
            state_machine=state_machine,
            state_machine_name=replace_hsm_state_machine_name(config.deployment_name),
            function=function,
            description="HSM replacements that timed out or were aborted: report, release, page",
            alerting=alerting,
            runbook=runbooks.SINGLE_HSM_FAILURE,
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=state_machine.state_machine_arn,
            description="Start with: hsmdr hsm replace --cluster ID",
        )
