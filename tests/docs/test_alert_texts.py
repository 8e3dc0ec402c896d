"""Alarm descriptions and the messages state machines word themselves name a runbook
that exists and only `hsmdr` commands that the CLI accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.alert_text import alert_problems, command_problem, commands_in, runbooks_in
from tests.conftest import Synthesized
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
        found += [p for p in alert_problems(description) if "does not exist" in p]
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


@pytest.mark.parametrize(
    "text",
    [
        "Read it: hsmdr report --execution <ARN>. Runbook: docs/runbooks/dr-drill.md",
        "Retry: hsmdr backup create --cluster c. Runbook: docs/runbooks/no-such-page.md",
        "Nothing to run. Runbook: docs/runbooks/dr-drill.md",
    ],
)
def test_a_wrong_command_or_runbook_is_caught(text: str) -> None:
    assert alert_problems(text) != []
