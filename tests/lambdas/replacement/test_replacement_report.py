"""The HSM replacement's stored report (lambdas/replacement/report.py) and its HTML page
(lambdas/replacement/report_html.py): phases from the milestones the steps record, each
created HSM's life, the discarded ones drawn as such. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.replacement.report import PHASES, failure_document, timing
from lambdas.replacement.report_html import bars, render_html
from lambdas.shared.html_report import DISCARDED, FAILED, OK, RETRY

T0 = "2026-03-01T02:00:00+00:00"


def at(minute: int) -> str:
    return f"2026-03-01T02:{minute:02d}:00+00:00"


def job(**run: Any) -> dict[str, Any]:
    plan = {
        "cluster_id": "cluster-abc",
        "label": "payments (cluster-abc)",
        "region": "us-east-1",
        "trigger": "health-check",
        "failed_hsm": {"hsm_id": "hsm-old", "availability_zone": "us-east-1a"},
        "create": True,
        "delete_failed": True,
        "started_at": T0,
        "execution": "arn:aws:states:us-east-1:1:execution:d-replace-hsm:run-1",
    }
    base = {
        "step": "check_sync",
        "attempts": 2,
        "created_hsm_ids": ["hsm-bad", "hsm-new"],
        "deleted_hsm_ids": ["hsm-bad", "hsm-old"],
        "actions": ["created HSM hsm-bad", "deleted HSM hsm-bad", "created HSM hsm-new"],
        "times": {
            "planned": at(1),
            "replacement_active": at(30),
            "failed_hsm_deleted": at(31),
            "synchronised": at(45),
        },
        "hsm_log": {
            "hsm-bad": {
                "availability_zone": "us-east-1a",
                "created_at": at(2),
                "degraded_at": at(10),
                "removed_at": at(11),
            },
            "hsm-new": {
                "availability_zone": "us-east-1a",
                "created_at": at(15),
                "active_at": at(30),
            },
        },
    }
    return {"plan": plan, "run": {**base, **run}}


def test_a_replacement_that_worked_has_every_phase_in_order_and_its_capacity_time() -> None:
    result = timing(job(), at(46))
    assert [s["step"] for s in result["steps"]] == [name for name, _s, _e in PHASES]
    assert [s["seconds"] for s in result["steps"]] == [60, 29 * 60, 60, 14 * 60, 60]
    assert result["capacity_restored_seconds"] == 30 * 60
    assert result["discarded_hsm_ids"] == ["hsm-bad"]


def test_phases_that_did_not_happen_take_no_time_and_the_next_starts_where_work_did() -> None:
    # Given a plan with nothing to create (the zone already has its HSMs)
    plain = job(times={"planned": at(1), "failed_hsm_deleted": at(3), "synchronised": at(9)})
    plain["plan"]["create"] = False
    steps = {s["step"]: s for s in timing(plain, at(10))["steps"]}
    assert steps["create replacement HSM"]["seconds"] == 0
    assert steps["delete failed HSM"]["started_at"] == at(1)
    assert steps["delete failed HSM"]["ended_at"] == at(3)


def test_the_page_draws_the_retried_phase_and_the_discarded_hsm() -> None:
    report = {"status": "SUCCEEDED", **timing(job(), at(46))}
    drawn = {b.label: b for b in bars(report)}
    assert drawn["create replacement HSM"].kind == RETRY
    assert drawn["HSM hsm-bad (us-east-1a)"].kind == DISCARDED
    assert drawn["HSM hsm-bad (us-east-1a)"].end == at(11)
    assert drawn["HSM hsm-new (us-east-1a)"].end == at(30)
    assert drawn["report"].kind == OK


def test_a_failed_replacement_reports_the_phase_it_failed_in() -> None:
    # Given a run that failed while its replacement was being created
    failing = job(step="check_hsm", times={"planned": at(1)}, deleted_hsm_ids=["hsm-bad"])
    error = {"Error": "HsmTimeout", "Cause": '{"errorMessage": "still CREATE_IN_PROGRESS"}'}
    alert = {"subject": "replacement FAILED", "body": "what exists"}
    now = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    document = failure_document(failing, error, alert, now)
    assert document["status"] == "FAILED" and document["error"] == "HsmTimeout"
    assert document["execution"].endswith(":run-1")
    assert document["duration_seconds"] == 3600
    [plan_phase, create] = document["steps"]
    assert plan_phase["ended_at"] == at(1) and create["ended_at"] is None
    drawn = {b.label: b for b in bars(document)}
    assert drawn["create replacement HSM"].kind == FAILED
    page = render_html(document)
    assert "HsmTimeout" in page and "hsm-bad" in page and "FAILED" in page
