"""The dashboard's DR-region widgets: each DR region's restore state machine, read
cross-region by an ARN the main stack builds itself (no reference to the DR stacks),
which must be the ARN the DR stack's state machine really has."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.names import dr_stack_name
from tests.conftest import config_data
from tests.infra.test_stack import resources
from tests.synthesis import Synthesized, synthesis

DR_REGIONS = ["us-west-2", "eu-west-1"]
OUTCOMES = {
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
}


def synth(dr_regions: list[str]) -> Synthesized:
    data = config_data()
    data["dr_regions"] = dr_regions
    return synthesis(data)


def widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's widgets, the partition resolved as `aws` (other tokens as TOKEN)."""
    [props] = [d["Properties"] for d in resources(template, "AWS::CloudWatch::Dashboard").values()]
    raw = "".join(
        part if isinstance(part, str) else "aws" if part == {"Ref": "AWS::Partition"} else "TOKEN"
        for part in props["DashboardBody"]["Fn::Join"][1]
    )
    return [w["properties"] for w in json.loads(raw)["widgets"]]


def restore_widgets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        w["title"]: w for w in widgets(template) if w.get("title", "").startswith("Restore exec")
    }


@pytest.fixture(scope="module")
def two_dr_regions() -> Synthesized:
    return synth(DR_REGIONS)


def test_each_dr_regions_restore_executions_are_on_the_dashboard(
    two_dr_regions: Synthesized,
) -> None:
    app = two_dr_regions
    found = restore_widgets(app.template)
    assert set(found) == {f"Restore executions in {r} (DR)" for r in DR_REGIONS}
    for region in DR_REGIONS:
        dr = dr_stack_name("hsmdr-sandbox", region)
        assert app.regions[dr] == region
        # The DR stack's restore state machine, by its fixed name.
        [name] = [
            m["Properties"]["StateMachineName"]
            for m in resources(app.templates[dr], "AWS::StepFunctions::StateMachine").values()
            if m["Properties"].get("StateMachineName", "").endswith("-restore-cluster")
        ]
        expected_arn = f"arn:aws:states:{region}:{app.accounts[dr]}:stateMachine:{name}"
        metrics = found[f"Restore executions in {region} (DR)"]["metrics"]
        assert {m[1] for m in metrics} == OUTCOMES
        for metric in metrics:
            namespace, _, dimension, arn, options = metric
            assert (namespace, dimension, arn) == ("AWS/States", "StateMachineArn", expected_arn)
            assert options["region"] == region
            assert options["stat"] == "Sum"
    # The main stack takes nothing from the DR stacks: no cross-stack reference.
    assert "Fn::ImportValue" not in json.dumps(app.template)


def test_main_regions_workflows_stay_in_the_main_region(
    two_dr_regions: Synthesized,
) -> None:
    main_restore = [
        w
        for w in widgets(two_dr_regions.template)
        if w.get("title") == "Executions: hsmdr-sandbox-restore-cluster"
    ]
    assert main_restore
    for metric in main_restore[0]["metrics"]:
        assert "region" not in metric[-1] or metric[-1]["region"] == "us-east-1"


def test_no_dr_regions_no_dr_restore_widget() -> None:
    assert restore_widgets(synth([]).template) == {}
