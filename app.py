#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth --all -c config=PATH` (default config/example.yaml)."""

from __future__ import annotations

import sys

from aws_cdk import App

from stacks.app_builder import build_app
from stacks.config import ConfigError, load_config

DEFAULT_CONFIG = "config/example.yaml"


def main() -> None:
    app = App()
    path = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        config = load_config(path)
    except ConfigError as error:
        sys.exit(str(error))
    build_app(config, app)
    app.synth()


if __name__ == "__main__":
    main()
