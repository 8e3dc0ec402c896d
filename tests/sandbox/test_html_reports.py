"""The HTML reports of real sandbox runs: the drill writes its page beside its JSON
report (the trend across the drills before it, a DEGRADED HSM discarded and the phase
that retried); `hsmdr report --html` draws a restore's and an HSM replacement's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from hsmdr.cli import main
from hsmdr.commands.docs import run_workflow
from sandbox.drill_scenarios import drill_sandbox, run_drill
from sandbox.session import Sandbox
from tests.conftest import Synthesized
from tests.lambdas.shared.test_html_report import parsed
from tests.sandbox.drill_support import drill_templates
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


@pytest.fixture
def drill_box() -> Iterator[Sandbox]:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(synthesized: Synthesized) -> Iterator[Sandbox]:
    with Sandbox(profile="test", templates=synthesized.templates) as sandbox:
        sandbox.seed_protected_clusters()
        yield sandbox


def test_the_drill_writes_its_html_page_beside_the_json_with_the_trend(
    drill_box: Sandbox,
) -> None:
    first = run_drill(drill_box)
    drill_box.apply_faults(["hsm-degraded"])
    second = run_drill(drill_box)
    assert first["status"] == second["status"] == "SUCCEEDED", second["cause"]
    keys = second["report"]["report"]
    assert keys["html_key"] == second["report_key"].removesuffix(".json") + ".html"
    bucket = drill_box.deployment.physical_id("DrDrillReports")
    stored = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket=bucket, Key=keys["html_key"]
    )
    assert stored["ContentType"] == "text/html; charset=utf-8"
    page = stored["Body"].read().decode()
    parsed(page)
    assert '<svg class="gantt"' in page
    assert 'class="bar discarded"' in page and 'class="bar retry"' in page
    assert '<svg class="trend"' in page
    for run in (first, second):  # the trend: the drill before, and this one
        assert run["execution_arn"].rsplit(":", 1)[-1] in page


RUNS = {"restore": (["hsm-degraded"], "identify backup"), "replacement": ([], "states")}


@pytest.mark.parametrize("workflow", list(RUNS))
def test_hsmdr_report_html_draws_a_sandbox_run(
    sandbox: Sandbox, workflow: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults, phase = RUNS[workflow]
    run = run_workflow(sandbox, workflow, faults)
    assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"))
    path = tmp_path / "report.html"
    arguments = ["report", run["execution_arn"], "--html", str(path), "--json"]
    assert main([*arguments, "--rto-minutes", "600", "--rpo-hours", "48"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["html_written_to"] == str(path)
    page = path.read_text(encoding="utf-8")
    parsed(page)
    assert '<svg class="gantt"' in page and phase in page
    if workflow == "restore":
        assert 'class="bar discarded"' in page and 'class="bar retry"' in page
        assert ">met</span>" in page  # RTO and RPO against 10 h and 48 h
