"""The Lambda code asset: the `lambdas/` package and nothing else from the repo.

The asset root is the repository so that handlers import `lambdas.shared...` exactly
as the tests and the CLI do; the glob keeps every other file out.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_cdk import IgnoreMode, Stack
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[3]  # stacks/constructs/shared/ -> the repo
_ONLY_LAMBDAS = ["*", ".*", "!lambdas", "!lambdas/**", "**/__pycache__", "**/*.pyc"]
# The key verifier's image recipe lives in lambdas/keycheck/ but is no zip code.
_ONLY_LAMBDAS += ["lambdas/keycheck/Dockerfile", "lambdas/keycheck/requirements.txt"]


@cache
def lambda_code(stack: Stack) -> lambda_.AssetCode:
    """One asset per stack object (CDK refuses to share an asset between stacks)."""
    return lambda_.Code.from_asset(
        str(REPO_ROOT), exclude=_ONLY_LAMBDAS, ignore_mode=IgnoreMode.GLOB
    )
