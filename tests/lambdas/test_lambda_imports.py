"""The Lambda asset stands alone: its code imports only what the runtime and the
Powertools layer provide, never the CDK app, the sandbox or test tooling."""

from __future__ import annotations

import ast
import sys

from tests.conftest import REPO_ROOT

ALLOWED_THIRD_PARTY = {"boto3", "botocore", "aws_lambda_powertools"}
# The key verifier ships in its own container image, which installs python-pkcs11.
KEYCHECK_ONLY = {"pkcs11"}
KEYCHECK = "lambdas/keycheck/"


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_lambda_code_imports_only_stdlib_runtime_and_layer_packages() -> None:
    offenders = {}
    for path in sorted((REPO_ROOT / "lambdas").rglob("*.py")):
        roots = imported_roots(path.read_text())
        relative = str(path.relative_to(REPO_ROOT))
        allowed = ALLOWED_THIRD_PARTY | (KEYCHECK_ONLY if relative.startswith(KEYCHECK) else set())
        foreign = {
            r
            for r in roots
            if r not in sys.stdlib_module_names and r not in allowed and r != "lambdas"
        }
        if foreign:
            offenders[str(path.relative_to(REPO_ROOT))] = sorted(foreign)
    assert offenders == {}


def test_pkcs11_is_allowed_in_the_key_verifier_package_only() -> None:
    # Given the verifier's PKCS#11 module, which must import pkcs11
    assert "pkcs11" in imported_roots((REPO_ROOT / KEYCHECK / "hsm.py").read_text())
    # Then no Lambda code outside lambdas/keycheck/ imports it (the zip functions lack it)
    outside = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "lambdas").rglob("*.py"))
        if not str(path.relative_to(REPO_ROOT)).startswith(KEYCHECK)
        and "pkcs11" in imported_roots(path.read_text())
    ]
    assert outside == []
