"""config/all-options.yaml sets every setting there is, so the static gates see every
construct and grant an option can add; a new setting must be added to it."""

from __future__ import annotations

import types
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from stacks.config import DeploymentConfig, load_config
from tests.infra.conftest import GATE_CONFIGS


def unset_settings(model: type[BaseModel], data: Any, path: str = "") -> list[str]:
    """Settings of `model` (nested ones included) that `data` leaves out. In a list of
    settings blocks, each setting must appear in at least one of them."""
    if isinstance(data, list):
        blocks = [item for item in data if isinstance(item, dict)]
        per_block = [set(unset_settings(model, block, path)) for block in blocks]
        return sorted(set.intersection(*per_block)) if per_block else [f"{path}[]"]
    missing = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in data:
            missing.append(path + key)
            continue
        for nested in _models(field.annotation):
            missing += unset_settings(nested, data[key], f"{path}{key}.")
    return missing


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
        list,
    ):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def test_the_all_options_config_sets_every_setting() -> None:
    data = yaml.safe_load(GATE_CONFIGS["all-options"].read_text())
    assert unset_settings(DeploymentConfig, data) == []


def test_the_check_names_a_setting_left_out() -> None:
    data = yaml.safe_load(GATE_CONFIGS["all-options"].read_text())
    del data["key_verification"]["canary_key_label"]
    del data["protected_clusters"][0]["rpo_hours"]  # the only cluster that sets it
    assert unset_settings(DeploymentConfig, data) == [
        "protected_clusters.rpo_hours",
        "key_verification.canary_key_label",
    ]


def test_every_gate_config_is_valid() -> None:
    for path in GATE_CONFIGS.values():
        assert load_config(path).deployment_name
