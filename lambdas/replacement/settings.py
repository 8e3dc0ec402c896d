"""How single-HSM failures are handled (the config's `hsm_replacement`), as the
functions read it back from their environment."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache

from lambdas.shared.env import Env
from lambdas.shared.settings import SettingsError


@dataclass(frozen=True)
class ReplacementSettings:
    auto_replace: bool = True
    poll_seconds: int = 30
    hsm_timeout_minutes: float = 45
    max_attempts: int = 3  # HSMs created per replacement before it gives up
    hsms_per_region_quota: int = 6

    def to_env(self) -> dict[str, str]:
        return {Env.REPLACEMENT_SETTINGS: json.dumps(asdict(self), separators=(",", ":"))}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReplacementSettings:
        environ = os.environ if environ is None else environ
        return _parse(environ.get(Env.REPLACEMENT_SETTINGS, ""))


@lru_cache(maxsize=8)
def _parse(raw: str) -> ReplacementSettings:
    try:
        return ReplacementSettings(**json.loads(raw))
    except (TypeError, ValueError) as error:
        raise SettingsError(
            f"{Env.REPLACEMENT_SETTINGS} is missing or malformed: {error}"
        ) from error
