"""The import contracts in pyproject.toml ([tool.importlinter]) hold: the CLI over the
sandbox over the CDK app over the Lambda code, and no import cycle inside hsmdr/ or
sandbox/. `lint-imports` (import-linter, pinned in requirements-dev.txt) checks them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_contract_is_kept() -> None:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: pip install -r requirements-dev.txt"
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout, result.stdout
