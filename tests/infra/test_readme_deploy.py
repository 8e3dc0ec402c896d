"""The README's deploy steps work as written: they are read from its "Deploy to AWS"
section and run, up to and including `cdk synth`, through the pinned CDK CLI
(package-lock.json) in a copy of the working tree, with the example config. Bootstrap
and deploy need an AWS account: the test checks they name the same config, bootstrap
every environment the app deploys to, and deploy every stack."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DEPLOY_HEADING = "## Deploy to AWS"
# Copied into the scratch tree: everything but what builds, caches and installs make.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "cdk.out", "__pycache__", "*.egg-info", ".*_cache",
    ".sandbox", "build",
)  # fmt: skip
TIMEOUT = 900


def deploy_commands(readme: str) -> list[list[str]]:
    """The first bash block of the deploy section, one command (its words) per line."""
    section = readme.partition(DEPLOY_HEADING)[2].split("\n## ")[0]
    block = section.partition("```bash\n")[2].partition("```")[0]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def kind(words: list[str]) -> str:
    """`make`, `npm ci`, `cp`, or the CDK CLI's command (`synth`, `bootstrap`, `deploy`)."""
    if words[:2] == ["npx", "cdk"]:
        return words[2]
    return " ".join(words[:2]) if words[0] == "npm" else words[0]


def context(words: list[str]) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-c", "--context")]


def test_the_deploy_steps_are_the_expected_ones() -> None:
    commands = deploy_commands((REPO_ROOT / "README.md").read_text())
    kinds = [kind(c) for c in commands]
    assert kinds == ["make", "npm ci", "cp", "synth", "bootstrap", "deploy"]
    synth, bootstrap, deploy = commands[3:]
    config = context(synth)
    # The same config for every CDK command, every stack synthesized and deployed
    assert config and config == context(bootstrap) == context(deploy)
    assert "--all" in synth
    assert "--all" in deploy
    # No environment given: the CLI bootstraps the environment of every stack of the app
    # (the deployment region and each DR region), which synthesis must name (below).
    positional = [w for w in bootstrap[3:] if not w.startswith("-") and w not in config]
    assert positional == []


def scratch_tree(tmp_path: Path) -> Path:
    """A copy of the working tree that shares the project's virtualenv (read-only use)."""
    tree = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, tree, ignore=NOT_COPIED, symlinks=True)  # keeps mtimes
    (tree / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    return tree


def run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "npm_config_prefer_offline": "true",  # npm ci from the cache when it can
        "npm_config_audit": "false",
        "npm_config_fund": "false",
    }
    return subprocess.run(
        words, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def test_the_readme_deploy_steps_synthesize_every_stack(tmp_path: Path) -> None:
    tree = scratch_tree(tmp_path)
    # `make` must find the shared virtualenv up to date: it would otherwise reinstall the
    # project into it from this scratch copy.
    if run(["make", "--question", ".venv/.installed"], tree).returncode != 0:
        pytest.skip(".venv is out of date: run `make check` (or any make target) first")
    commands = deploy_commands((REPO_ROOT / "README.md").read_text())
    # When every step up to the synthesis runs as written
    for words in commands:
        if kind(words) in ("bootstrap", "deploy"):
            break
        done = run(words, tree)
        assert done.returncode == 0, f"`{shlex.join(words)}` failed:\n{done.stderr[-3000:]}"
    # Then the CDK CLI synthesized the main stack and one stack per DR region, each with
    # its region, so `cdk bootstrap` (no environment given) bootstraps every region
    config_path = context(next(c for c in commands if kind(c) == "synth"))[0].split("=", 1)[1]
    config = yaml.safe_load((tree / config_path).read_text())
    manifest = json.loads((tree / "cdk.out" / "manifest.json").read_text())
    stacks = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    deployment = config["deployment_name"]
    expected = {deployment: config["region"]} | {
        f"{deployment}-dr-{region}": region for region in config["dr_regions"]
    }
    assert {name: env.rsplit("/", 1)[1] for name, env in stacks.items()} == expected
    for name in stacks:
        assert (tree / "cdk.out" / f"{name}.template.json").is_file()
