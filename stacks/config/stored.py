"""The validated deployment config as the stacks store it in SSM, and back.

The main stack and every DR-region stack write it to the String parameter
`config_parameter(deployment_name)` (stacks/constructs/shared/stored_config.py), so that
`hsmdr --deployment NAME` works with no local YAML, in the primary region or, when
that region is down, in a DR region.

The value is compact JSON of the settings as given (after validation: defaults the
config did not set are left out, as in the YAML). Size: a standard parameter holds
4 KB, an advanced one 8 KB. The parameter uses the Intelligent-Tiering tier, which
stays standard (free) while the value fits in 4 KB and becomes advanced only when it
does not (it never needs to go back: a later, smaller value is accepted there too).
A config whose JSON exceeds 8 KB (dozens of clusters or contacts) is stored
zlib-compressed and base64-encoded behind the prefix `COMPRESSED`; one that does not fit
even so is refused at synthesis.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from stacks.config import ConfigError, DeploymentConfig, parse_config

STANDARD_LIMIT = 4096  # bytes of value in a standard-tier parameter
ADVANCED_LIMIT = 8192  # ... and in an advanced-tier one
COMPRESSED = "zlib+base64:"


def settings(config: DeploymentConfig) -> dict[str, Any]:
    """The settings as given (validated; unset defaults left out), as JSON types."""
    data: dict[str, Any] = config.model_dump(mode="json", exclude_unset=True)
    return data


def stored_value(config: DeploymentConfig) -> str:
    """What the stacks put in the config parameter (ASCII, at most ADVANCED_LIMIT)."""
    text = json.dumps(settings(config), separators=(",", ":"), sort_keys=True)
    if len(text) <= ADVANCED_LIMIT:
        return text
    packed = COMPRESSED + base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    if len(packed) > ADVANCED_LIMIT:
        raise ConfigError(
            config.deployment_name,
            [
                f"the config is {len(text)} bytes as JSON ({len(packed)} compressed): more "
                f"than the {ADVANCED_LIMIT} bytes an SSM parameter holds, so `hsmdr "
                "--deployment` could not read it back; split the deployment"
            ],
        )
    return packed


def config_from_stored(value: str, shown: str) -> DeploymentConfig:
    """The config back from the parameter's value, validated again (ConfigError naming
    `shown` when it is not a config this version accepts)."""
    text = value
    if value.startswith(COMPRESSED):
        try:
            text = zlib.decompress(base64.b64decode(value[len(COMPRESSED) :])).decode()
        except (binascii.Error, zlib.error, UnicodeDecodeError) as error:
            raise ConfigError(shown, [f"the compressed value does not unpack: {error}"]) from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(shown, [f"not JSON: {error}"]) from error
    if not isinstance(data, dict):
        raise ConfigError(shown, ["the value must hold a mapping of settings"])
    return parse_config(data, shown)
