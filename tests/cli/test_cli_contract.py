"""The CLI's surface, walked over the whole argparse tree: help on every command and
option, one --json everywhere (no --format), --region meaning one thing, --deployment
wherever --config is taken, and --version."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from hsmdr.cli import build_parser, main


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("hsmdr",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """Every parser in the tree with its path and the help its parent lists it with."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, listed.get(name)
                yield from commands(sub, (*path, name))


def leaves() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The commands that run (they set `run`), by their command line."""
    for path, parser, _ in commands(build_parser()):
        if parser.get_default("run") is not None:
            yield " ".join(path), parser


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {o: a for a in parser._actions for o in a.option_strings}


def test_the_tree_is_walked() -> None:
    names = {name for name, _ in leaves()}
    assert {"hsmdr backup verify", "hsmdr sandbox demo", "hsmdr config show"} <= names
    assert len(names) >= 25


def test_every_command_and_option_has_help() -> None:
    root = build_parser()
    missing = [
        f"hsmdr {a.option_strings or a.dest}"
        for a in root._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    for path, parser, listed in commands(root):
        if not listed:
            missing.append(f"{' '.join(path)} (the command)")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{' '.join(path)} {action.option_strings or action.dest}")
    assert missing == []


@pytest.mark.parametrize(("name", "parser"), list(leaves()), ids=str)
def test_every_command_takes_json_and_no_format(name: str, parser: argparse.ArgumentParser) -> None:
    taken = options(parser)
    assert "--json" in taken, name
    assert "--format" not in taken and "--output-format" not in taken, name


def test_region_means_the_region_the_command_works_in_everywhere() -> None:
    found = {
        name: options(parser)["--region"].help
        for name, parser in leaves()
        if "--region" in options(parser)
    }
    assert set(found) >= {"hsmdr restore", "hsmdr sandbox restore", "hsmdr backup list"}
    for name, text in found.items():
        assert str(text).startswith("the AWS region to work in: "), name


def test_wherever_config_is_taken_deployment_is_too() -> None:
    with_config = [
        (name, options(parser)) for name, parser in leaves() if "--config" in options(parser)
    ]
    assert len(with_config) >= 13
    for name, taken in with_config:
        assert "--deployment" in taken, name
        assert not taken["--config"].required, name  # --deployment or $HSMDR_DEPLOYMENT do


def test_version_and_exit_codes_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"hsmdr {version('cloudhsm-dr')}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit codes: 0 succeeded (or started), 1 findings or a failed workflow, 2 usage" in text
    assert "--deployment NAME" in text
