"""One execution at a time per restore id: a claim in SSM Parameter Store.

Why SSM and not the lock table: a restore runs from the main stack or from a DR-region
stack, and when the primary region is down only the target region's services are left.
The claim lives in the target region, next to the client configuration the restore
publishes, and needs no table in every stack.

A claim is a parameter `/hsmdr/{deployment}/restores/{restore_id}/{generation}` whose
value is the holder's execution ARN. PutParameter without Overwrite either creates the
parameter or fails, so of two executions racing for the same generation one wins. The
highest generation holds the restore; a holder that no longer runs is taken over by
creating the next generation (which again only one execution can do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.shared.errors import CloudHsmDrError

HolderRunning = Callable[[str], bool]
_TAKEOVER_ROUNDS = 3


class RestoreAlreadyRunning(CloudHsmDrError):
    """Another execution holds this restore id and is still running."""


def claims_path(deployment: str, restore_id: str) -> str:
    return f"/hsmdr/{deployment}/restores/{restore_id}/"


class RestoreClaims:
    def __init__(self, deployment: str, ssm: Any) -> None:
        self._deployment = deployment
        self._ssm = ssm

    def claim(self, restore_id: str, execution: str, holder_running: HolderRunning) -> int:
        """Hold `restore_id` for `execution`; returns the claim's generation."""
        for _ in range(_TAKEOVER_ROUNDS):
            holders = self.holders(restore_id)
            top = max(holders, default=0)
            if top and holders[top] == execution:
                return top
            if top and holder_running(holders[top]):
                raise RestoreAlreadyRunning(
                    f"restore {restore_id} is being run by {holders[top]}: follow that "
                    "execution instead (this one created nothing)"
                )
            if self._create(restore_id, top + 1, execution):
                return top + 1
        raise RestoreAlreadyRunning(f"restore {restore_id} changed hands while this run claimed it")

    def holders(self, restore_id: str) -> dict[int, str]:
        """Every claim of the restore so far, by generation."""
        path = claims_path(self._deployment, restore_id)
        found: dict[int, str] = {}
        for page in self._ssm.get_paginator("get_parameters_by_path").paginate(Path=path):
            for parameter in page["Parameters"]:
                suffix = parameter["Name"].removeprefix(path)
                if suffix.isdigit():
                    found[int(suffix)] = parameter["Value"]
        return found

    def _create(self, restore_id: str, generation: int, execution: str) -> bool:
        name = f"{claims_path(self._deployment, restore_id)}{generation:04d}"
        try:
            self._ssm.put_parameter(
                Name=name,
                Value=execution,
                Type="String",
                Overwrite=False,
                Description="cloudhsm-dr: the execution that holds this restore",
            )
        except self._ssm.exceptions.ParameterAlreadyExists:
            return False
        return True


def execution_running(execution_arn: str) -> bool:
    """Whether a Step Functions execution, in whichever region it runs, still runs."""
    import boto3

    from lambdas.shared.executions import execution_running as running

    parts = execution_arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else None
    return running(boto3.client("stepfunctions", region_name=region), execution_arn)
