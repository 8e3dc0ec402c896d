"""What every command returns (`Outcome`) and the error for bad operator input
(`UsageError`). hsmdr/cli.py prints the one and classifies the other; the commands
under hsmdr/commands/ build them."""

from __future__ import annotations

from typing import Any


class Outcome:
    """What a command produced: a JSON-able document and its human rendering."""

    def __init__(self, document: dict[str, Any], text: str) -> None:
        if document.get("status") not in ("SUCCEEDED", "FAILED", "STARTED"):
            raise ValueError("every command result needs a status")
        self.document = document
        self.text = text

    @property
    def ok(self) -> bool:
        return bool(self.document["status"] in ("SUCCEEDED", "STARTED"))


class UsageError(Exception):
    """Bad input from the operator: reported with the field, before any call."""
