"""The standby refresher: only in a DR stack with a pilot-light cluster, and IAM that
creates clusters only with its own tags and deletes only its own standbys."""

from __future__ import annotations

import json
from typing import Any

from lambdas.shared.env import Env
from tests.conftest import config_data
from tests.synthesis import synthesis

DR_STACK = "hsmdr-sandbox-dr-us-west-2"


def pilot_light_app() -> Any:
    data = config_data()
    data["protected_clusters"][0]["dr_posture"] = {"us-west-2": "pilot-light"}
    data.setdefault("restore", {}).setdefault("subnets", {})["us-west-2"] = [
        "subnet-0c1d2e3f4a5b60738",
        "subnet-0d1e2f3a4b5c60748",
    ]
    return synthesis(data)


def refresher_roles(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and lid.startswith("StandbyRefresher")
    ]


def test_a_cold_config_deploys_no_refresher(synthesized: Any) -> None:
    template = synthesized.templates[DR_STACK]
    assert not [lid for lid in template["Resources"] if lid.startswith("StandbyRefresher")]


def test_the_refresher_creates_and_deletes_only_its_own_standbys() -> None:
    template = pilot_light_app().templates[DR_STACK]
    [function] = [
        r
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and lid.startswith("StandbyRefresher")
    ]
    settings = json.loads(function["Properties"]["Environment"]["Variables"][Env.STANDBY_SETTINGS])
    assert settings["cluster_ids"] == ["cluster-sandboxprimary"]
    assert settings["region"] == "us-west-2"
    statements = [
        s for p in refresher_roles(template) for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    create = by_sid["CreateStandbyOnlyTagged"]
    assert create["Condition"]["StringEquals"]["aws:RequestTag/hsmdr:deployment"] == "hsmdr-sandbox"
    assert create["Condition"]["StringLike"] == {"aws:RequestTag/hsmdr:standby-of": "*"}
    delete = by_sid["DeleteOnlyStandbys"]
    assert delete["Action"] == "cloudhsm:DeleteCluster"
    assert delete["Condition"]["StringLike"] == {"aws:ResourceTag/hsmdr:standby-of": "*"}
    assert delete["Condition"]["Null"] == {"aws:ResourceTag/hsmdr:restore-id": "true"}
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not actions & {"cloudhsm:CreateHsm", "cloudhsm:DeleteHsm", "cloudhsm:UntagResource"}


def warm_standby_app() -> Any:
    data = config_data()
    data["protected_clusters"][0]["dr_posture"] = {"us-west-2": "warm-standby"}
    data.setdefault("restore", {}).setdefault("subnets", {})["us-west-2"] = [
        "subnet-0c1d2e3f4a5b60738",
        "subnet-0d1e2f3a4b5c60748",
    ]
    return synthesis(data)


def test_a_warm_refresher_creates_hsms_only_on_its_own_standbys_and_alerts() -> None:
    template = warm_standby_app().templates[DR_STACK]
    [function] = [
        r
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and lid.startswith("StandbyRefresher")
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    settings = json.loads(variables[Env.STANDBY_SETTINGS])
    assert settings["warm_cluster_ids"] == settings["cluster_ids"] == ["cluster-sandboxprimary"]
    assert settings["hsms_per_region_quota"] == 6
    # Its refusals are alerted: the stack's topics are in its environment.
    assert Env.ALERT_TOPIC_ARN in variables and Env.NOTIFY_TOPIC_ARN in variables
    statements = [
        s for p in refresher_roles(template) for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    create_hsm = by_sid["WarmStandbyHsmOnlyOnStandbys"]
    assert create_hsm["Action"] == "cloudhsm:CreateHsm"
    assert create_hsm["Condition"]["StringLike"] == {"aws:ResourceTag/hsmdr:standby-of": "*"}
    assert create_hsm["Condition"]["Null"] == {"aws:ResourceTag/hsmdr:restore-id": "true"}
    [delete_hsm] = [s for s in statements if s["Action"] == "cloudhsm:DeleteHsm"]
    assert delete_hsm["Resource"] == "*"
    assert delete_hsm["Condition"]["StringEquals"] == {"aws:RequestedRegion": ["us-west-2"]}
    assert "sns:Publish" in {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


def test_the_warm_refresher_grants_pass_the_iam_gate() -> None:
    from tests.infra.static_gates import iam_findings, iam_statements
    from tests.infra.template_arns import StackTemplate

    app = warm_standby_app()
    stack = StackTemplate(
        "warm-standby", DR_STACK, app.regions[DR_STACK], app.accounts[DR_STACK],
        app.templates[DR_STACK],
    )  # fmt: skip
    labels = {s.label for s in iam_statements(stack)}
    assert {"WarmStandbyHsmOnlyOnStandbys", "CreateStandbyOnlyTagged"} <= labels
    problems = [f.line() for f in iam_findings([stack]) if "StandbyRefresher" in f.line()]
    assert problems == []
