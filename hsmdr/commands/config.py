"""`hsmdr config show`: the validated deployment config, from a file or as the deployed
stack stored it in SSM (`--deployment NAME`)."""

from __future__ import annotations

import argparse
from typing import Any

from hsmdr.arguments import add_config_source, add_json_flag
from hsmdr.outcome import Outcome


def register(groups: Any) -> None:
    config = groups.add_parser("config", help="the deployment config the commands work with")
    commands = config.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        help="print the validated config (as YAML; --deployment: the one the stack stored)",
        description=(
            "Validates the config of --config PATH, or reads the one the deployed stack "
            "stored in SSM (--deployment NAME: parameter /hsmdr/NAME/config, in your AWS "
            "region; needs ssm:GetParameter), and prints the settings as given. The output "
            "is a config file: `hsmdr config show --deployment NAME > NAME.yaml`."
        ),
    )
    add_config_source(show)
    add_json_flag(show)
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> Outcome:
    import yaml

    from hsmdr.deployment_config import load, source
    from stacks.config.stored import settings as stored_settings

    settings = stored_settings(load(args))
    document = {"status": "SUCCEEDED", "source": source(args), "config": settings}
    text = f"# {source(args)}\n" + yaml.safe_dump(settings, sort_keys=False).rstrip()
    return Outcome(document, text)
