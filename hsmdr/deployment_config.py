"""The deployment config a command works on: `--config PATH` (a local YAML), or
`--deployment NAME` (also before the command, or $HSMDR_DEPLOYMENT): the validated
config the deployed stacks store in the SSM parameter /hsmdr/NAME/config
(stacks/constructs/shared/stored_config.py), read with ssm:GetParameter in the region of your
AWS environment (AWS_REGION, AWS_DEFAULT_REGION, or the profile's region). Each
DR-region stack holds a copy, so with AWS_REGION set to a DR region it is read there
when the primary region is down.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING

from hsmdr.arguments import DEPLOYMENT_ENV
from hsmdr.outcome import UsageError

if TYPE_CHECKING:
    from stacks.config import DeploymentConfig

# The shape of deployment_name in the config (an SSM parameter path segment too).
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,39}$"


def deployment_name(args: argparse.Namespace) -> str | None:
    """The --deployment the command line or the environment gives, when no --config."""
    named = getattr(args, "deployment", None) or getattr(args, "global_deployment", None)
    if getattr(args, "config", None):
        if named:
            raise UsageError("--config and --deployment: give one of them, not both")
        return None
    return named or os.environ.get(DEPLOYMENT_ENV) or None


def source(args: argparse.Namespace) -> str:
    """How messages name the config: its path, or `deployment NAME`."""
    name = deployment_name(args)
    return f"deployment {name}" if name else str(args.config)


def load(args: argparse.Namespace) -> DeploymentConfig:
    """The validated config of --config PATH or of --deployment NAME; UsageError when
    neither is given, ConfigError when it is not valid."""
    from stacks.config import load_config

    name = deployment_name(args)
    if name is None:
        if not getattr(args, "config", None):
            raise UsageError(
                "give the deployment: --config PATH (its YAML) or --deployment NAME (the "
                f"deployed one, read from SSM; or set {DEPLOYMENT_ENV})"
            )
        return load_config(args.config)
    return read_deployed(name)


def operator_region() -> str | None:
    """The region of the operator's AWS environment: AWS_REGION (which the AWS CLI v2
    and the other SDKs read, botocore does not), else AWS_DEFAULT_REGION or the
    profile's region."""
    import boto3

    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or None


def read_deployed(name: str, region: str | None = None) -> DeploymentConfig:
    """The config the deployment's stack stored in `region` (default: the AWS session's)."""
    import boto3
    from botocore.exceptions import ClientError

    from stacks.config import ConfigError
    from stacks.config.stored import config_from_stored
    from stacks.names import config_parameter

    if not re.fullmatch(NAME_PATTERN, name):
        raise UsageError(f"--deployment: {name!r} is not a deployment name ({NAME_PATTERN})")
    region = region or operator_region()
    if not region:
        raise UsageError(
            f"--deployment {name}: no AWS region to read it in: set AWS_REGION (or your "
            "profile's region) to the deployment's region, or to a DR region"
        )
    parameter = config_parameter(name)
    try:
        value = boto3.client("ssm", region_name=region).get_parameter(Name=parameter)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        raise UsageError(
            f"--deployment {name}: no parameter {parameter} in {region}: check the name "
            "(deployment_name in its config) and AWS_REGION (the deployment's region or a "
            "DR region); a stack deployed before hsmdr stored its config has none: deploy "
            "it again, or use --config PATH"
        ) from error
    config = config_from_stored(value["Parameter"]["Value"], f"ssm:{parameter} in {region}")
    if config.deployment_name != name:
        raise ConfigError(
            f"ssm:{parameter} in {region}",
            [f"deployment_name: {config.deployment_name!r}, not {name!r}"],
        )
    return config
