"""`pipx install .` gives a working `hsmdr`: the wheel declares what the CLI needs at
run time, the CDK app, the sandbox and the dev tools as extras, and the entry point.

The wheel is built from a copy of the sources (nothing is written into the checkout),
without build isolation or an index, with the setuptools requirements-dev.txt pins.
The slow test installs it into a fresh virtualenv from PyPI (pip's cache helps) and
runs `hsmdr` there with no AWS credentials."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import EXAMPLE_CONFIG, REPO_ROOT

PACKAGES = ("hsmdr", "stacks", "sandbox", "lambdas", "presentation")
RUNTIME = {"boto3", "botocore", "pydantic", "pyyaml", "aws-cron-expression-validator", "tzdata"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, source / package, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--wheel-dir", str(out), str(source)]
    subprocess.run(command, check=True, cwd=source, capture_output=True, timeout=300)
    [built] = out.glob("cloudhsm_dr-*.whl")
    return built


def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def requirements(wheel: Path) -> dict[str, list[Requirement]]:
    """Requires-Dist by extra ("" for the install without extras)."""
    by_extra: dict[str, list[Requirement]] = {}
    for line in metadata(wheel).get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = str(requirement.marker or "")
        extra = marker.split("==")[1].strip().strip("\"'") if "extra" in marker else ""
        requirement.marker = None
        by_extra.setdefault(extra, []).append(requirement)
    return by_extra


def test_the_wheel_declares_the_runtime_dependencies_and_the_extras(wheel: Path) -> None:
    declared = requirements(wheel)
    assert {canonicalize_name(r.name) for r in declared[""]} == RUNTIME
    assert set(metadata(wheel).get_all("Provides-Extra") or []) == {"cdk", "sandbox", "dev"}
    names = {extra: {canonicalize_name(r.name) for r in rs} for extra, rs in declared.items()}
    assert {"aws-cdk-lib", "constructs", "cdk-nag"} <= names["cdk"]
    assert {"cloudhsm-dr", "moto", "aws-lambda-powertools", "policy-sentry"} <= names["sandbox"]
    assert {"cloudhsm-dr", "pytest", "ruff", "mypy", "import-linter"} <= names["dev"]
    # the extras build on each other: dev has the sandbox, the sandbox the CDK app
    assert any(r.name == "cloudhsm-dr" and r.extras == {"cdk"} for r in declared["sandbox"])
    assert any(r.name == "cloudhsm-dr" and r.extras == {"sandbox"} for r in declared["dev"])


def test_the_wheel_has_the_entry_point_and_the_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[console_scripts]\nhsmdr = hsmdr.cli:main" in text
    for module in ("hsmdr/cli.py", "stacks/config/stored.py", "presentation/render.py"):
        assert module in names
    assert "lambdas/keycheck/Dockerfile" in names  # the key verifier's image recipe
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)


def pins(path: Path) -> Iterator[Requirement]:
    for line in path.read_text().splitlines():
        text = line.split("#")[0].strip()
        if text and not text.startswith("-"):
            yield Requirement(text)


def test_the_pinned_versions_are_inside_the_declared_ranges(wheel: Path) -> None:
    """requirements*.txt pin what CI tests; pyproject.toml declares ranges for pip and
    pipx. Every pin must satisfy the range declared for it, so the tested versions are
    installable from the wheel."""
    declared = {
        canonicalize_name(r.name): r
        for rs in requirements(wheel).values()
        for r in rs
        if r.name != "cloudhsm-dr"
    }
    build_only = {"setuptools"}
    checked = 0
    for path in (REPO_ROOT / "requirements.txt", REPO_ROOT / "requirements-dev.txt"):
        for pin in pins(path):
            name = canonicalize_name(pin.name)
            if name in build_only:
                continue
            assert name in declared, f"{path.name}: {pin} is declared nowhere in pyproject.toml"
            [version] = [s.version for s in pin.specifier]
            assert declared[name].specifier.contains(version), (pin, declared[name])
            checked += 1
    assert checked >= 20


# Installed into a fresh virtualenv ---------------------------------------------------

NETWORK_TROUBLE = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectTimeoutError",
)


def no_aws(home: Path) -> dict[str, str]:
    """An environment with no AWS credentials or config anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HSMDR_"))}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


@pytest.mark.slow
def test_installed_in_a_fresh_virtualenv_hsmdr_runs(wheel: Path, tmp_path: Path) -> None:
    from importlib.metadata import version

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    installed = subprocess.run(
        [*pip, "install", "--quiet", str(wheel)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if installed.returncode != 0 and any(t in installed.stderr for t in NETWORK_TROUBLE):
        pytest.skip(f"PyPI is not reachable: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr
    hsmdr = str(venv / "bin" / "hsmdr")
    env = no_aws(tmp_path)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [hsmdr, *argv],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    shown = run("--version")
    assert shown.returncode == 0 and shown.stdout == f"hsmdr {version('cloudhsm-dr')}\n"
    helped = run("--help")
    assert helped.returncode == 0 and "backup" in helped.stdout and "exit codes" in helped.stdout
    # An AWS command gets as far as AWS with the runtime dependencies alone: the config
    # validates, the code imports, and with no credentials it says what to do.
    refused = run("backup", "verify", "--config", str(EXAMPLE_CONFIG))
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.startswith("hsmdr: AWS: no credentials found: set AWS_PROFILE")
    assert "Traceback" not in refused.stderr
    # The sandbox runs from a checkout, and says so
    sandbox = run("sandbox", "demo")
    assert sandbox.returncode == 2 and "the sandbox runs from a checkout" in sandbox.stderr
    assert "pip install -e '.[sandbox]'" in sandbox.stderr and "Traceback" not in sandbox.stderr
