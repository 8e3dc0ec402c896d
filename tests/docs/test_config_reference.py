"""docs/configuration.md is generated from the config model and committed: it must be
what scripts/gen_config_reference.py writes today, and say what every setting does."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

import yaml

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "gen_config_reference.py"
PAGE = REPO_ROOT / "docs" / "configuration.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_committed_page_is_what_the_generator_writes() -> None:
    # Given the config model as it is now, when the page is generated, then it is the
    # committed one (otherwise: .venv/bin/python scripts/gen_config_reference.py).
    assert PAGE.read_text() == generator().render(), (
        "docs/configuration.md is stale: run .venv/bin/python scripts/gen_config_reference.py"
    )


def test_every_setting_says_what_it_does() -> None:
    settings = [s for section in generator().sections() for s in section.settings]
    assert len(settings) > 80
    assert [s.key for s in settings if not s.meaning.strip()] == []


def keys_set(data: Any, path: str = "") -> set[str]:
    """Dotted keys a config file sets, `[]` for list items, maps of user keys not walked."""
    if isinstance(data, list):
        return {k for item in data for k in keys_set(item, f"{path}[]")}
    if not isinstance(data, dict) or path.endswith(
        ("hsms_per_az", "subnets", "dr_posture", "regions")
    ):
        return set()
    found = set()
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else str(key)
        found |= {dotted} | keys_set(value, dotted)
    return found


def test_the_page_documents_every_key_the_all_options_config_sets() -> None:
    data = yaml.safe_load((REPO_ROOT / "config" / "all-options.yaml").read_text())
    page = PAGE.read_text()
    documented = {key.removesuffix("[]") for key in keys_set(data)}
    assert len(documented) > 80
    missing = sorted(k for k in documented if f"`{k}`" not in page and f"`{k}[]`" not in page)
    assert missing == []


def test_the_generator_notices_a_stale_page(tmp_path: Any, monkeypatch: Any) -> None:
    module = generator()
    stale = tmp_path / "configuration.md"
    stale.write_text(module.render().replace("`rpo_hours`", "`rpo_hour`", 1))
    monkeypatch.setattr(module, "OUTPUT", stale)
    monkeypatch.setattr(module, "REPO_ROOT", tmp_path)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
