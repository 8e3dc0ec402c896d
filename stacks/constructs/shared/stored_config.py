"""The deployment's validated config, stored in SSM where the stack runs, so that
`hsmdr --deployment NAME` (and `hsmdr config show`) work without a local YAML.

Both the main stack and each DR-region stack hold a copy: when the primary region is
down, the operator reads it from the DR region the restore runs in. The value and the
tier are explained in stacks/config/stored.py.
"""

from __future__ import annotations

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.config import DeploymentConfig
from stacks.config.stored import stored_value
from stacks.names import config_parameter


class StoredConfig(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=config_parameter(config.deployment_name),
            string_value=stored_value(config),
            # Standard (free, 4 KB) while the config fits, advanced (8 KB) only when not.
            tier=ssm.ParameterTier.INTELLIGENT_TIERING,
            description=(
                f"{config.deployment_name}: the validated deployment config (JSON) this "
                "stack was built from; hsmdr --deployment reads it (hsmdr config show)"
            ),
        )
