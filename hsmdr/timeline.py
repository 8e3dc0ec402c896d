"""Moved to presentation/timeline.py (the sandbox reads execution timelines too, and the
sandbox is a layer below the CLI). Kept only for sandbox/drill_scenarios.py, which still
imports it from here; once that import names presentation.timeline, delete this module
and its `ignore_imports` entry in pyproject.toml."""

from presentation.timeline import timeline

__all__ = ["timeline"]
