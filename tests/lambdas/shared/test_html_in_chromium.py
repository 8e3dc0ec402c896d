"""The HTML reports open in headless Chromium (the Debian `chromium` package) and render
with no console message at all: no script error, no invalid SVG attribute, no resource
that failed to load. Skipped where Chromium is missing, except under CI=true (.ci/run
installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hsmdr.incident import html as incident_html
from lambdas.drill.report_html import render_html as drill_html
from lambdas.restore.report_html import render_html as restore_html
from lambdas.shared.html_report import Bar, Measure, Page, TrendPoint, render
from tests.lambdas.shared.test_html_report import HOSTILE, at, drill_report, restore_report

CONSOLE = re.compile(r":CONSOLE[:(]")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing (apt-get install chromium); CI must run this")
        pytest.skip("chromium is missing: apt-get install chromium")
    return found


def open_in_chromium(page: str, directory: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from the page, and every console message it logged."""
    path = directory / "report.html"
    path.write_text(page, encoding="utf-8")
    done = subprocess.run(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={directory / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if CONSOLE.search(line)]


def test_a_broken_page_is_caught(tmp_path: Path) -> None:
    """The check itself: a console error is seen."""
    _, console = open_in_chromium(
        "<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>",
        tmp_path,
    )
    assert any("boom" in line for line in console)


def test_the_restore_page_renders_with_no_console_message(tmp_path: Path) -> None:
    dom, console = open_in_chromium(
        restore_html(restore_report(), rto_minutes=20, rpo_hours=24), tmp_path
    )
    assert console == []
    assert '<svg class="gantt"' in dom
    assert 'class="bar discarded"' in dom and 'class="bar retry"' in dom
    assert "EXCEEDED" in dom


def test_the_drill_page_with_its_trend_renders_with_no_console_message(tmp_path: Path) -> None:
    past = [
        {
            "execution": f"past-{n}",
            "started_at": f"2026-0{n}-01T09:00:00+00:00",
            "status": "SUCCEEDED",
            "measurements": {"recovery_time_seconds": 900.0 * n},
        }
        for n in (1, 2, 3)
    ]
    dom, console = open_in_chromium(drill_html(drill_report(), past), tmp_path)
    assert console == []
    assert '<svg class="trend"' in dom and '<svg class="gantt"' in dom


def test_the_post_incident_page_renders_with_no_console_message(tmp_path: Path) -> None:
    report = {
        "status": "FAILED",
        "execution_status": "FAILED",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:prod-restore:r",
        "state_machine": "prod-restore",
        "started": at(0),
        "stopped": None,
        "duration_seconds": None,
        "output": restore_report(),
        "failure": {"state": "Verify", "error": "States.TaskFailed", "message": "m"},
        "rto_seconds": 1500.0,
        "rpo_seconds": None,
        "alerts": [],
        "timeline": [
            {"state": "Identify", "type": "Task", "start": at(0), "end": at(20)},
            {"state": "Verify", "type": "Task", "start": at(20), "end": None, "failed": True},
        ],
    }
    dom, console = open_in_chromium(incident_html(report, rto_minutes=60), tmp_path)
    assert console == []
    assert "Post-incident report" in dom


def test_hostile_values_stay_text_in_the_browser(tmp_path: Path) -> None:
    page = Page(
        title=HOSTILE,
        status=HOSTILE,
        facts=[(HOSTILE, HOSTILE)],
        bars=[Bar(HOSTILE, at(0), at(10), HOSTILE, HOSTILE, HOSTILE)],
        measures=[Measure(HOSTILE, 5, 10, HOSTILE)],
        trend=[TrendPoint(HOSTILE, 5, True)],
        trend_objective_seconds=10,
        findings=[(HOSTILE, HOSTILE, HOSTILE)],
    )
    dom, console = open_in_chromium(render(page), tmp_path)
    assert console == []  # the would-be script never ran
    assert "<script>" not in dom
