"""The HTML reports (lambdas/shared/html_report.py and the restore's, the drill's and the
post-incident pages built on it): phases in the Gantt chart, DEGRADED HSMs discarded and
the phase that retried, RTO and RPO against the objectives, the drill trend, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar

from hsmdr.incident import html as incident_html
from lambdas.drill.report import build_report
from lambdas.drill.report_html import bars as drill_bars
from lambdas.drill.report_html import html_key, trend
from lambdas.drill.report_html import render_html as drill_html
from lambdas.restore.report_html import bars as restore_bars
from lambdas.restore.report_html import render_html as restore_html
from lambdas.shared.html_report import (
    DISCARDED,
    FAILED,
    OK,
    RETRY,
    RUNNING,
    Bar,
    Measure,
    Page,
    TrendPoint,
    render,
)

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:prod-restore:run-1"
HOSTILE = '<script>alert("x")</script>&'


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


class Page_(HTMLParser):
    """Parses the page: its tags, its text, and whether every tag it opens is closed."""

    VOID: ClassVar[set[str]] = {"meta", "rect", "line", "br", "img", "input", "link"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.attributes: list[dict[str, str | None]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.append(dict(attrs))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(text: str) -> Page_:
    page = Page_(text)
    assert page.open == [], page.open
    return page


def restore_report(**changes: Any) -> dict[str, Any]:
    steps = [
        ("identify backup", 0, 20),
        ("create cluster", 20, 600),
        ("first HSM", 600, 1500),
        ("publish client configuration", 1500, 1510),
        ("verify recovery", 1510, 1530),
        ("remaining HSMs", 1530, 2400),
        ("final report", 2400, 2405),
    ]
    report: dict[str, Any] = {
        "status": "SUCCEEDED",
        "restore_id": "r-1",
        "execution": EXECUTION,
        "region": "us-east-1",
        "source_cluster_id": "cluster-source",
        "backup": {"backup_id": "backup-1", "create_timestamp": at(-7200)},
        "rpo_seconds": 7200.0,
        "rto_seconds": 1500.0,
        "time_to_full_ha_seconds": 2400.0,
        "cluster_id": "cluster-new",
        "hsms": [{"hsm_id": "hsm-b", "eni_ip": "10.0.0.2", "availability_zone": "us-east-1b"}],
        "removed_hsm_ids": ["hsm-a"],
        "steps": [
            {"step": name, "started_at": at(a), "ended_at": at(b), "seconds": b - a}
            for name, a, b in steps
        ],
        "hsm_timeline": [
            {
                "hsm_id": "hsm-a",
                "availability_zone": "us-east-1a",
                "created_at": at(610),
                "degraded_at": at(900),
                "removed_at": at(905),
                "state": "DELETED",
            },
            {
                "hsm_id": "hsm-b",
                "availability_zone": "us-east-1b",
                "created_at": at(910),
                "active_at": at(1500),
                "state": "ACTIVE",
            },
        ],
        "key_verification": "key verification: not run (API checks only)",
        "notes": [],
        "started_at": at(0),
        "finished_at": at(2405),
    }
    report.update(changes)
    return report


def test_every_phase_is_a_bar_of_the_gantt_chart() -> None:
    page = parsed(restore_html(restore_report()))
    text = " ".join(page.text)
    for phase in ("identify backup", "create cluster", "first HSM", "remaining HSMs"):
        assert phase in text
    rects = [a for tag, a in zip(page.tags, page.attributes, strict=True) if tag == "rect"]
    # 7 phases, 2 HSMs, one RTO bar, one RPO bar, one time-to-HA bar
    assert len(rects) == 7 + 2 + 3
    assert "script" not in page.tags


def test_a_degraded_hsm_is_discarded_and_its_phase_shows_the_retry() -> None:
    bars = {b.label: b for b in restore_bars(restore_report())}
    assert bars["first HSM"].kind == RETRY
    assert "DEGRADED" in bars["first HSM"].note
    assert bars["HSM hsm-a (us-east-1a)"].kind == DISCARDED
    assert bars["HSM hsm-a (us-east-1a)"].end == at(905)
    assert bars["HSM hsm-b (us-east-1b)"].kind != DISCARDED
    assert bars["create cluster"].kind == OK
    page = restore_html(restore_report())
    assert 'class="bar retry"' in page and 'class="bar discarded"' in page
    assert "DEGRADED, retried" in page and "DEGRADED HSM, discarded" in page


def test_rto_and_rpo_against_the_objectives() -> None:
    met = restore_html(restore_report(), rto_minutes=30, rpo_hours=24)
    assert _verdicts(met) == ["met", "met", "no objective"]
    exceeded = restore_html(restore_report(), rto_minutes=20, rpo_hours=1)
    assert _verdicts(exceeded) == ["EXCEEDED", "EXCEEDED", "no objective"]
    assert "25 min 0 s" in exceeded and "20 min 0 s" in exceeded
    none_set = restore_html(restore_report())
    assert "none set" in none_set
    assert Measure("RTO", 61, 60).met is False and Measure("RTO", 60, 60).met is True
    assert Measure("RTO", None, 60).met is None


def _verdicts(page: str) -> list[str]:
    return re.findall(r'<span class="status (?:met|EXCEEDED|unknown)">([^<]*)</span>', page)


def test_every_value_is_escaped() -> None:
    page = Page(
        title=HOSTILE,
        status=HOSTILE,
        facts=[(HOSTILE, HOSTILE)],
        bars=[Bar(HOSTILE, at(0), at(10), HOSTILE, HOSTILE, HOSTILE)],
        measures=[Measure(HOSTILE, 5, 10, HOSTILE)],
        trend=[TrendPoint(HOSTILE, 5, True)],
        trend_name=HOSTILE,
        trend_objective_seconds=10,
        findings=[(HOSTILE, HOSTILE, HOSTILE)],
        sections=[(HOSTILE, [HOSTILE])],
    )
    text = render(page, generated_at=HOSTILE)
    assert "<script>" not in text
    assert '"x"' not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in text
    parsed_page = parsed(text)
    assert "script" not in parsed_page.tags
    # an unknown bar kind is drawn as completed, its class sanitised
    assert 'class="bar scriptalertxscript"' in text


def test_the_page_is_self_contained() -> None:
    text = restore_html(restore_report())
    page = parsed(text)
    assert text.startswith("<!DOCTYPE html>")
    assert not {"script", "link", "img", "iframe"} & set(page.tags)
    assert "http://" not in text.replace("http://www.w3.org", "")
    assert "https://" not in text
    assert "url(" not in text


def test_a_failed_restore_shows_the_phase_that_did_not_end() -> None:
    report = restore_report(status="FAILED")
    report["steps"][-1]["ended_at"] = None
    assert {b.label: b for b in restore_bars(report)}["final report"].kind == FAILED
    running = restore_report(status="RUNNING")
    running["steps"][-1]["ended_at"] = None
    assert {b.label: b for b in restore_bars(running)}["final report"].kind == RUNNING
    parsed(restore_html(report))


def drill_job(**run: Any) -> dict[str, Any]:
    return {
        "plan": {
            "execution": "arn:aws:states:us-east-1:123456789012:execution:prod-dr-drill:d-2",
            "deployment": "prod",
            "trigger": "schedule",
            "source_cluster_id": "cluster-source",
            "source": "copy",
            "region": "us-west-2",
            "subnets": ["subnet-1"],
            "backup": {"backup_id": "backup-1", "create_timestamp": at(-3600)},
            "key_verification": {"configured": True, "required": True},
            "started_at": at(-10),
            "notes": [],
        },
        "run": {
            "step": "teardown",
            "cluster": {"cluster_id": "cluster-drill"},
            "hsms": [
                {
                    "hsm_id": "hsm-1",
                    "zone": "us-west-2a",
                    "created_at": at(300),
                    "gone_at": at(700),
                },
                {
                    "hsm_id": "hsm-2",
                    "zone": "us-west-2b",
                    "created_at": at(720),
                    "gone_at": at(2100),
                },
            ],
            "findings": [],
            "error": None,
            "keys": {"status": "SUCCEEDED"},
            "teardown": {"done": True, "actions": ["deleted drill cluster"], "left": []},
            "times": {
                "create_requested": at(0),
                "cluster_active": at(290),
                "hsm_requested": at(300),
                "hsm_active": at(1500),
                "keys_verified": at(1560),
                "teardown_started": at(1600),
                "teardown_done": at(2100),
            },
            **run,
        },
    }


def drill_report(rto_minutes: float = 60) -> dict[str, Any]:
    return build_report(
        drill_job(), T0 + timedelta(hours=1), hsm_hour_usd=1.5, rto_minutes=rto_minutes, bucket="b"
    )


def test_the_drill_page_has_its_phases_a_discarded_hsm_and_the_trend() -> None:
    report = drill_report()
    assert report["report"]["html_key"] == html_key(report["report"]["json_key"])
    assert report["report"]["html_key"].endswith("-d-2.html")
    bars = {b.label: b for b in drill_bars(report)}
    assert bars["first HSM"].kind == RETRY
    assert bars["HSM hsm-1 (us-west-2a)"].kind == DISCARDED
    assert bars["HSM hsm-2 (us-west-2b)"].kind != DISCARDED
    assert bars["teardown"].kind == OK
    past = [
        {
            "execution": f"past-{n}",
            "execution_name": f"past-{n}",
            "started_at": f"2026-0{n}-01T09:00:00+00:00",
            "status": "FAILED" if n == 2 else "SUCCEEDED",
            "measurements": {"recovery_time_seconds": 1000.0 * n},
        }
        for n in (3, 1, 2)
    ]
    points = trend([*past, report], report)
    assert [p.label[:10] for p in points] == [
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
        report["started_at"][:10],
    ]
    assert [p.ok for p in points] == [True, False, True, True]
    assert points[-1].seconds == 1560.0
    page = drill_html(report, past)
    parsed(page)
    assert "Trend across drills" in page and 'class="trend"' in page
    assert _verdicts(page)[:2] == ["met", "met"]
    assert _verdicts(drill_html(drill_report(rto_minutes=20)))[:2] == ["EXCEEDED", "EXCEEDED"]


def test_the_post_incident_page_draws_the_states_and_the_restore_phases() -> None:
    report = {
        "status": "FAILED",
        "execution_status": "FAILED",
        "execution_arn": EXECUTION,
        "state_machine": "prod-restore",
        "started": at(0),
        "stopped": at(2405),
        "duration_seconds": 2405.0,
        "output": restore_report(),
        "failure": {"state": "Verify", "error": HOSTILE, "message": HOSTILE},
        "rto_seconds": 1500.0,
        "rpo_seconds": 7200.0,
        "alerts": [{"at": at(5), "subject": HOSTILE, "message": "m"}],
        "timeline": [
            {"state": "Identify", "type": "Task", "start": at(0), "end": at(20), "seconds": 20},
            {"state": "WaitHsm", "type": "Wait", "start": at(20), "end": at(600), "seconds": 580},
            {"state": "Verify", "type": "Task", "start": at(600), "end": at(700), "failed": True},
            {"state": "Choose", "type": "Choice", "start": at(700), "end": at(700)},
        ],
    }
    page = incident_html(report, rto_minutes=30, rpo_hours=1)
    parsed(page)
    assert "<script>" not in page
    assert "identify backup" in page and "WaitHsm" in page and "Choose" not in page
    assert 'class="bar failed"' in page and 'class="bar discarded"' in page
    assert _verdicts(page) == ["met", "EXCEEDED"]


def test_the_post_incident_page_of_a_drill_holds_it_to_its_own_rto() -> None:
    output = drill_report(rto_minutes=20)
    report = {
        "status": "SUCCEEDED",
        "execution_status": "SUCCEEDED",
        "execution_arn": output["execution"],
        "state_machine": "prod-dr-drill",
        "started": at(-10),
        "stopped": at(2100),
        "duration_seconds": 2110.0,
        "output": output,
        "failure": None,
        "rto_seconds": None,  # the drill's measures are under "measurements"
        "rpo_seconds": None,
        "alerts": [],
        "timeline": [],
    }
    page = incident_html(report, rpo_hours=24)
    parsed(page)
    assert 'class="bar discarded"' in page and "teardown" in page
    assert _verdicts(page) == ["EXCEEDED", "met"]  # 26 min against 20; 1 h against 24 h


def test_odd_values_still_draw_valid_svg() -> None:
    """Clocks that disagree (an end before its start, a negative measure), no phase at
    all, a trend with nothing measured: no negative width or height reaches the SVG."""
    page = Page(
        title="odd",
        status="FAILED",
        bars=[Bar("backwards", at(10), at(0)), Bar("open", at(5), None, RUNNING)],
        measures=[Measure("negative", -5, 10), Measure("zero", 0, None)],
        trend=[TrendPoint("a", None), TrendPoint("b", -3, False)],
    )
    text = render(page)
    parsed(text)
    assert not re.search(r'(width|height)="-', text)
    assert "-5.0 s" in text
    assert "No timed phase was recorded." in render(Page(title="empty", status="RUNNING"))
