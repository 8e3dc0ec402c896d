"""On-demand backups: the step function, its state machine and their permissions."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.backups.on_demand import workflow_timeout_minutes
from lambdas.shared import runbooks
from lambdas.shared.env import Env
from stacks.config import DeploymentConfig
from stacks.constructs.alerting.alerting import Alerting
from stacks.constructs.alerting.state_machine import ObservedStateMachine
from stacks.constructs.alerting.stopped_executions import stopped_rule
from stacks.constructs.backups import on_demand_workflow as on_demand_backup
from stacks.constructs.shared.cluster_locks import ClusterLocks
from stacks.constructs.shared.hsm_permissions import protected_hsm_change_statements
from stacks.constructs.shared.python_function import PythonFunction
from stacks.nag import acknowledge
from stacks.names import ON_DEMAND_BACKUP


class OnDemandBackup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        alerting: Alerting,
        locks: ClusterLocks,
    ) -> None:
        super().__init__(scope, construct_id)
        name = f"{config.deployment_name}-on-demand-backup"
        self.lambda_ = PythonFunction(
            self,
            "Steps",
            config=config,
            service_name=ON_DEMAND_BACKUP,
            handler="lambdas.backups.on_demand_handler.handler",
            description="Steps of the on-demand CloudHSM backup state machine",
            environment={
                # The alert topics: it pages itself for an execution that was stopped.
                **alerting.alert_settings(config).to_env(),
                **config.backup_settings().to_env(),
                Env.LOCK_TABLE: locks.table.table_name,
            },
            timeout=Duration.minutes(2),
        )
        function = self.lambda_.function
        role = self.lambda_.role
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudhsm:DescribeClusters", "cloudhsm:DescribeBackups"],
                resources=["*"],
            )
        )
        # Adding and removing HSMs: only on the clusters this deployment protects.
        for statement in protected_hsm_change_statements(self, config):
            role.add_to_policy(statement)
        locks.grant_take(function)
        alerting.grant_alerts(function)
        acknowledge(
            role,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudhsm:DescribeClusters/DescribeBackups/DeleteHsm and X-Ray trace writes "
            "support no resource-level permissions (DeleteHsm is limited to the protected "
            "clusters' regions; the code deletes only HSMs its execution created); the EC2 "
            "actions CloudHSM performs with the caller's permissions for CreateHsm/DeleteHsm "
            "act on network interfaces made at run time and are allowed only through CloudHSM "
            "in those regions; CreateHsm is limited to the protected clusters' ARNs.",
        )

        on_demand = config.backups.on_demand
        self.workflow = ObservedStateMachine(
            self,
            "Workflow",
            config=config,
            name=name,
            definition=on_demand_backup.build(
                self,
                function=function,
                topic=alerting.topic,
                notify_topic=alerting.notify_topic,
                locks=locks.table,
            ),
            # The lock TTL is derived from the same function (lock_ttl_seconds).
            timeout=Duration.minutes(
                workflow_timeout_minutes(
                    on_demand.hsm_timeout_minutes, on_demand.backup_timeout_minutes
                )
            ),
            comment="Force a CloudHSM backup by adding (or cycling) an HSM, then clean up",
            alerting=alerting,
            invokes=[function],
            when_stopped=(
                "An on-demand backup execution timed out or was aborted: the step function "
                "deletes the HSMs it created, releases its lock and pages with what is left. "
                "Read that page; without it, look for a leftover temporary HSM (hsmdr cluster "
                "health --config <deployment config> --cluster <cluster id>)."
            ),
            runbook=runbooks.ON_DEMAND_BACKUP,
        )
        state_machine = self.workflow.state_machine
        self.stopped_rule = stopped_rule(
            self,
            state_machine=state_machine,
            state_machine_name=name,
            function=function,
            description="On-demand backups that timed out or were aborted: clean up, page",
            alerting=alerting,
            runbook=runbooks.ON_DEMAND_BACKUP,
        )
        CfnOutput(
            self,
            "StateMachineArn",
            value=state_machine.state_machine_arn,
            description="Start with: hsmdr backup create --config PATH --cluster ID --follow",
        )
