"""`{deployment}-vault-operator`: the managed policy an operator's role in the recovery
account attaches to do what docs/runbooks/vault.md tells them, and nothing more.

It allows exactly the calls of those steps (tests/sandbox/test_vault_operator_policy.py
runs them as a role with only this policy in the recovery account and records every
call): read the vault's backups (`aws cloudhsmv2 describe-backups`), start the vault's
restore (`aws stepfunctions start-execution`) and follow it (`hsmdr follow`, `hsmdr
report ARN` for its stored report), and start and read the vault's drill (`hsmdr drill
start|status|report --vault`). The reports are read from the vault stack's own bucket,
under the drill's and the restore's prefixes only.

Deleting an HSM a failed refresh left behind (`VAULT_HOLDS_HSM`) stays break-glass:
cloudhsm:DeleteHsm has no resource type nor condition key in IAM, so a policy that allows
it lets its holder delete any HSM of the account, the restored production cluster's
included. No vault command sends a test alert, so the policy has no topic in it.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from lambdas.drill.report import REPORT_PREFIX as DRILL_REPORTS
from lambdas.drill.settings import drill_state_machine_name
from lambdas.restore.report import REPORT_PREFIX as RESTORE_REPORTS
from stacks.config import DeploymentConfig
from stacks.constructs.shared.operator_policy import (
    EXECUTION_ACTIONS,
    MACHINE_ACTIONS,
    UNSCOPED_ACTIONS,
    acknowledge_wildcards,
    read_reports,
)
from stacks.constructs.shared.reports_bucket import ReportsBucket
from stacks.constructs.vault.settings import vault_region
from stacks.names import restore_state_machine_name, vault_operator_policy_name

# The reports `hsmdr report` and `hsmdr drill report --vault` read.
REPORT_PREFIXES = (DRILL_REPORTS, RESTORE_REPORTS)


class VaultOperatorPolicy(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        reports: ReportsBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = config.deployment_name
        region = vault_region(config)
        machines = [restore_state_machine_name(name), drill_state_machine_name(name)]

        def arn(service: str, resource: str) -> str:
            return f"arn:{stack.partition}:{service}:{region}:{stack.account}:{resource}"

        statements = [
            iam.PolicyStatement(
                sid="StartAndListTheVaultsWorkflows",
                actions=list(MACHINE_ACTIONS),
                resources=[arn("states", f"stateMachine:{m}") for m in machines],
            ),
            iam.PolicyStatement(
                sid="FollowTheirExecutions",
                actions=list(EXECUTION_ACTIONS),
                resources=[arn("states", f"execution:{m}:*") for m in machines],
            ),
            iam.PolicyStatement(
                sid="FindStateMachinesAndReadCloudHsm",
                actions=list(UNSCOPED_ACTIONS),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ReadThisDeploymentsParameters",
                actions=["ssm:GetParameter"],
                resources=[arn("ssm", f"parameter/hsmdr/{name}/*")],
            ),
            *read_reports(reports, REPORT_PREFIXES),
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=vault_operator_policy_name(name),
            description=f"What an operator needs to run the vault runbook of {name} "
            "(docs/runbooks/vault.md)",
            statements=statements,
        )
        acknowledge_wildcards(
            self.policy,
            statements,
            {
                "*": "CloudHSM DescribeClusters and DescribeBackups and "
                "states:ListStateMachines have no resource-level permissions",
                "execution:": "the executions of the vault's restore and drill (their names "
                "are made at start)",
                "parameter/": "this deployment's own SSM parameters, /hsmdr/<name>/*",
                "reports/": "the vault's reports, under the drill's and restore's prefixes",
            },
        )
