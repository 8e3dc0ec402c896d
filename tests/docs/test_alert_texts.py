"""Alarm descriptions and the messages state machines word themselves name a runbook
that exists (a heading that exists, for an anchor) and only `hsmdr` commands that the
CLI accepts, naming the deployment (`--deployment NAME`); with the config's `docs_url`,
every runbook reference is a link under it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.alert_text import (
    alert_problems,
    command_problem,
    commands_in,
    reference_problems,
    runbooks_in,
)
from tests.conftest import SANDBOX_CONFIG, Synthesized
from tests.docs.test_runbooks import definition


def rendered(value: Any) -> str:
    """A CloudFormation string with its tokens (Ref, GetAtt, ...) shown as TOKEN."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(p) for p in parts)
    return "TOKEN"


def alarm_descriptions(synthesized: Synthesized) -> Iterator[tuple[str, str]]:
    for template in synthesized.templates.values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                yield logical_id, rendered(resource["Properties"].get("AlarmDescription", ""))


def publish_states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in machine["States"].items():
        if state.get("Type") == "Task" and "sns:publish" in str(state.get("Resource")):
            yield name, state["Parameters"]


def worded_messages(synthesized: Synthesized) -> Iterator[tuple[str, str]]:
    """Messages a state machine words itself (States.Format); the others are worded by
    a Lambda step and checked where the sandbox captures them."""
    for template in synthesized.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            machine = definition(resource)
            for state, parameters in publish_states(machine):
                message = parameters.get("Message") or parameters.get("Message.$", "")
                if message.startswith("States.Format("):
                    literal = re.match(r"States\.Format\('((?:[^'\\]|\\.)*)'", message)
                    assert literal is not None, message
                    where = f"{resource['Properties']['StateMachineName']}:{state}"
                    # Each {} is filled at run time with one value (an id, a region).
                    yield where, literal.group(1).replace("{}", "VALUE")


def test_every_alarm_names_a_runbook_that_exists_and_valid_commands(
    synthesized: Synthesized,
) -> None:
    problems = {}
    count = 0
    for logical_id, description in alarm_descriptions(synthesized):
        count += 1
        found = [f"no runbook in: {description}"] if not runbooks_in(description) else []
        found += [p for c in commands_in(description) if (p := command_problem(c))]
        found += reference_problems(description)
        found += [f"names no deployment: {c}" for c in commands_in(description) if "--config" in c]
        if found:
            problems[logical_id] = found
    assert count > 20
    assert problems == {}


def test_messages_worded_by_state_machines_name_a_runbook_and_a_command(
    synthesized: Synthesized,
) -> None:
    messages = dict(worded_messages(synthesized))
    assert len(messages) >= 4  # one fallback per workflow at least
    problems = {where: p for where, text in messages.items() if (p := alert_problems(text))}
    assert problems == {}
    assert [c for t in messages.values() for c in commands_in(t) if "--config" in c] == []


DOCS_URL = "https://github.com/example-org/cloudhsm-dr/blob/main"


@pytest.fixture(scope="module")
def with_docs_url(synthesized: Synthesized) -> Synthesized:
    """The sandbox config with `docs_url` set, synthesized."""
    import yaml
    from aws_cdk import App

    from stacks.app_builder import build_app
    from stacks.config import parse_config

    data = yaml.safe_load(SANDBOX_CONFIG.read_text(encoding="utf-8"))
    app, stack = build_app(parse_config({**data, "docs_url": DOCS_URL}), App())
    assembly = app.synth()
    return replace(
        synthesized,
        template=assembly.get_stack_by_name(stack.stack_name).template,
        assembly_dir=Path(assembly.directory),
        templates={s.stack_name: s.template for s in assembly.stacks},
    )


def test_with_a_docs_url_every_runbook_reference_is_a_link_that_resolves(
    with_docs_url: Synthesized,
) -> None:
    texts = dict(alarm_descriptions(with_docs_url)) | dict(worded_messages(with_docs_url))
    assert len(texts) > 24
    problems = {
        where: found
        for where, text in texts.items()
        if (found := reference_problems(text, docs_url=DOCS_URL))
    }
    assert problems == {}
    linked = [w for w, t in texts.items() if f"{DOCS_URL}/docs/runbooks/" in t]
    assert len(linked) == len([w for w, t in texts.items() if runbooks_in(t)]) > 24


def test_a_function_words_its_messages_for_this_deployment(monkeypatch: Any) -> None:
    from lambdas.shared import runbooks
    from lambdas.shared.env import Env

    text = (
        "Retry: hsmdr backup create --config <deployment config> --cluster c --follow. "
        "Runbook: docs/runbooks/on-demand-backup.md#when-it-fails"
    )
    assert runbooks.from_environment(text) == text  # no deployment, no docs_url
    monkeypatch.setenv(Env.DEPLOYMENT_NAME, "payments")
    monkeypatch.setenv(Env.DOCS_URL, DOCS_URL + "/")
    worded = runbooks.from_environment(text)
    assert worded == (
        "Retry: hsmdr backup create --deployment payments --cluster c --follow. "
        f"Runbook: {DOCS_URL}/docs/runbooks/on-demand-backup.md#when-it-fails"
    )
    assert alert_problems(worded, docs_url=DOCS_URL) == []


@pytest.mark.parametrize(
    "text",
    [
        "Read it: hsmdr report --execution <ARN>. Runbook: docs/runbooks/dr-drill.md",
        "Retry: hsmdr backup create --cluster c. Runbook: docs/runbooks/no-such-page.md",
        "Nothing to run. Runbook: docs/runbooks/dr-drill.md",
        "Run hsmdr drill status. Runbook: docs/runbooks/dr-drill.md#no-such-heading",
    ],
)
def test_a_wrong_command_or_runbook_is_caught(text: str) -> None:
    assert alert_problems(text) != []
