"""One synthesis per deployment config per test run, shared by every test that needs it.

Synthesizing the app takes 10-20 seconds of jsii round trips. Every test (infra
assertions, sandbox deployments, the CLI's sandbox commands) asks here instead, with
the config's data; the first asker synthesizes, the others read the result. Under
pytest-xdist the result is shared by the workers too: each config is synthesized once,
by whichever worker asks first, into a directory of the run's base temporary directory,
and a lock file makes the others wait for it instead of synthesizing again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Template = dict[str, Any]


@dataclass(frozen=True)
class Synthesized:
    """One synthesis of the app, shared by the test run."""

    template: Template  # the main stack's
    stack_name: str
    assembly_dir: Path  # the cloud assembly (validation report, asset manifests)
    templates: dict[str, Template]  # every stack's, by stack name (main + DR regions)
    regions: dict[str, str]  # stack name -> the region it deploys to
    accounts: dict[str, str]  # stack name -> its environment's account


_memory: dict[str, Synthesized] = {}
_root: list[Path] = []  # where syntheses are shared between the run's processes


def share_between_workers(root: Path) -> None:
    """Where this process writes and looks for syntheses (set once per session)."""
    root.mkdir(parents=True, exist_ok=True)
    _root[:] = [root]


def config_key(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def synthesis(data: Mapping[str, Any]) -> Synthesized:
    """The app synthesized from this config data (as `cdk synth` would, cdk-nag included).

    The templates are shared: a test that changes one must change a copy."""
    key = config_key(data)
    if key in _memory:
        return _memory[key]
    if not _root:
        share_between_workers(Path(tempfile.mkdtemp(prefix="hsmdr-synthesis-")))
    folder = _root[0] / key
    with _locked(_root[0] / f"{key}.lock"):
        record = folder / "synthesized.json"
        if not record.exists():
            _synthesize(data, folder / "cdk.out", record)
        saved = json.loads(record.read_text(encoding="utf-8"))
    synthesized = Synthesized(
        template=saved["templates"][saved["stack_name"]],
        stack_name=saved["stack_name"],
        assembly_dir=folder / "cdk.out",
        templates=saved["templates"],
        regions=saved["regions"],
        accounts=saved["accounts"],
    )
    _memory[key] = synthesized
    return synthesized


def _synthesize(data: Mapping[str, Any], outdir: Path, record: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App

    from stacks.app_builder import build_app
    from stacks.config import parse_config

    app, stack = build_app(parse_config(dict(data)), App(outdir=str(outdir)))
    assembly = app.synth()
    saved = {
        "stack_name": stack.stack_name,
        "templates": {s.stack_name: s.template for s in assembly.stacks},
        "regions": {s.stack_name: s.environment.region for s in assembly.stacks},
        "accounts": {s.stack_name: s.environment.account for s in assembly.stacks},
    }
    partial = record.with_suffix(".partial")
    partial.write_text(json.dumps(saved), encoding="utf-8")
    partial.replace(record)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def synthesize_path(config_path: Path) -> dict[str, Template]:
    """`sandbox.session.synthesize` through the shared syntheses: the same config errors
    (load_config reads and checks the file first), and a copy of the templates, which
    the sandbox deploys and a test may change."""
    import yaml

    from stacks.config import load_config

    load_config(config_path)
    data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    templates: dict[str, Template] = json.loads(json.dumps(synthesis(data).templates))
    return templates
