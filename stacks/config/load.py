"""Loading the file: read, decode and parse it, then validate it, turning every problem
into `PATH: field.sub: what is wrong`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stacks.config.base import ConfigError
from stacks.config.deployment import DeploymentConfig


def load_config(path: str | Path) -> DeploymentConfig:
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(shown, [f"cannot read the file: {error.strerror}"]) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            shown,
            [
                f"line {line}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset "
                f"{error.start}): save the file as UTF-8"
            ],
        ) from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(shown, [f"{where}not valid YAML: {problem}"]) from error
    if not isinstance(data, dict):
        raise ConfigError(shown, ["the file must hold a mapping of settings"])
    return parse_config(data, shown)


def parse_config(data: dict[str, Any], shown: str = "config") -> DeploymentConfig:
    try:
        return DeploymentConfig.model_validate(data)
    except ValidationError as error:
        errors = _blame_the_deployment_region(data, error.errors())
        raise ConfigError(shown, [line for e in errors for line in _describe(e)]) from error


def _blame_the_deployment_region(data: dict[str, Any], errors: list[Any]) -> list[Any]:
    """A cluster without its own region takes the deployment's: when that region is
    wrong, the error is `region`'s alone, not repeated for every such cluster."""
    if not any(tuple(e["loc"]) == ("region",) for e in errors):
        return errors
    clusters = data.get("protected_clusters")
    inherited = {
        ("protected_clusters", index, "region")
        for index, cluster in enumerate(clusters if isinstance(clusters, list) else [])
        if isinstance(cluster, dict) and "region" not in cluster
    }
    return [e for e in errors if tuple(e["loc"]) not in inherited]


def _describe(error: Any) -> list[str]:
    """`field.sub: what is wrong`, one line per problem (a check may find several)."""
    location = ".".join(str(part) for part in error["loc"])
    message = re.sub(r"^Value error, ", "", error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling against config/example.yaml)"
    elif error["type"] == "string_pattern_mismatch":
        message = f"{error['input']!r} does not match {error['ctx']['pattern']}"
    return [f"{location}: {line}" if location else line for line in message.splitlines()]
