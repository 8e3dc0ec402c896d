"""The drill's report: measured, written to S3 (JSON, Markdown and an HTML page with
the trend across past drills), emitted as metrics, and worded for the page or the notify
message."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdas.alerting.workflow_alerts import error_summary
from lambdas.drill import step_support as support
from lambdas.drill.network import Ec2
from lambdas.drill.plan import SCHEDULED, chained_execution_name, next_scheduled_cluster
from lambdas.drill.report import (
    REPORT_PREFIX,
    alert,
    build_report,
    emf_document,
    render_markdown,
    to_json,
)
from lambdas.drill.report_html import TREND_LIMIT, render_html
from lambdas.drill.settings import DrillSettings
from lambdas.drill.step_support import SERVICE, Job
from lambdas.shared.console import execution_url
from lambdas.shared.env import METRICS_NAMESPACE
from lambdas.shared.errors import (
    CloudHsmDrError,
)
from lambdas.shared.executions import execution_arn_of, state_machine_of
from lambdas.shared.observability import logger

# Report ----------------------------------------------------------------------------------


def report(event: Mapping[str, Any]) -> dict[str, Any]:
    """Measure, write the report (JSON, Markdown and HTML) to S3, emit the metrics, and
    prepare the notification. Runs after teardown, whatever happened before."""
    job: Job = json.loads(json.dumps(event["job"]))
    settings = DrillSettings.from_env()
    run = job["run"]
    state = run.get("teardown") or {}
    if event.get("teardown_error"):
        name, message = error_summary(event["teardown_error"])
        state["done"] = False
        state["remaining"] = [*(state.get("remaining") or []), f"{name}: {message}"]
    state["still_there"] = still_there(job, settings)
    run["teardown"] = state
    now = support.utc_now()
    document = build_report(
        job,
        now,
        hsm_hour_usd=settings.hsm_hour_usd,
        rto_minutes=settings.rto_minutes,
        bucket=settings.report_bucket,
    )
    document["next_drill"] = start_next_drill(job, settings, document["teardown"]["status"])
    if document["next_drill"]:
        document["notes"].append(document["next_drill"]["note"])
    _store(settings, document)
    print(json.dumps(emf_document(document, namespace=METRICS_NAMESPACE, service=SERVICE)))
    document["alert"] = alert(document, execution_url(job["plan"]["execution"]))
    logger.info("drill report", extra={"status": document["status"], "error": document["error"]})
    return document


def start_next_drill(job: Job, settings: DrillSettings, teardown: str) -> dict[str, Any] | None:
    """A scheduled drill from the vault starts the next protected cluster's drill once
    its own drill cluster is gone (lambdas/drill/plan.py, next_scheduled_cluster). A
    start that fails is said in the report, never fails it."""
    plan_ = job["plan"]
    execution = str(plan_["execution"])
    cluster = next_scheduled_cluster(
        trigger=str(plan_.get("trigger")),
        cluster_id=str(plan_["source_cluster_id"]),
        order=list(support.protected()),
        vault=bool(settings.vault_deployment),
    )
    if cluster is None or not execution.startswith("arn:"):
        return None
    by_hand = f"start it by hand: hsmdr drill start --vault --cluster {cluster} --follow"
    if teardown not in ("COMPLETE", "COMPLETE_WITH_LEFTOVERS"):
        return {
            "cluster": cluster,
            "execution_arn": None,
            "note": f"the drill of {cluster} was not started: this drill's teardown did not "
            f"finish (a second drill cluster would be refused); {by_hand}",
        }
    import boto3

    sfn = boto3.client("stepfunctions", region_name=settings.primary_region)
    name = chained_execution_name(execution, cluster)
    arn = execution_arn_of(state_machine_of(execution), name)
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_of(execution),
            name=name,
            input=json.dumps({"trigger": SCHEDULED, "cluster": cluster}),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        pass  # this step ran before and started it
    except Exception as error:  # the report must still be written
        logger.warning("next drill not started", extra={"error": type(error).__name__})
        return {
            "cluster": cluster,
            "execution_arn": None,
            "note": f"the drill of {cluster} could not be started ({type(error).__name__}); "
            f"{by_hand}",
        }
    return {"cluster": cluster, "execution_arn": arn, "note": f"the drill of {cluster}: {arn}"}


def still_there(job: Job, settings: DrillSettings) -> list[str]:
    """What the drill made that exists now, read from CloudHSM and EC2: its clusters
    (recorded or tagged with this execution) and their HSMs, and the verifier's egress
    rule. A read that fails is said as such, never taken for "gone"."""
    plan_, run = job["plan"], job["run"]
    region, execution = plan_["region"], plan_["execution"]
    found: list[str] = []
    try:
        gateway = support.gateway_in(region)
        recorded = [run["cluster"]["cluster_id"]] if run.get("cluster") else []
        tagged = [c.cluster_id for c in support.tagged(gateway, execution)]
        ids = list(dict.fromkeys([*recorded, *tagged]))
        clusters = gateway.find_clusters(ids) if ids else {}
        for cluster_id in ids:
            cluster = clusters.get(cluster_id)
            if cluster is None or cluster.state == "DELETED":
                continue
            if support.borrowed(job, cluster_id):  # the standby stays: only its HSMs count
                created = {h["hsm_id"] for h in run["hsms"]}
                found += [
                    f"HSM {h.hsm_id} ({h.state}) the drill added to standby {cluster_id}"
                    for h in cluster.hsms
                    if h.hsm_id in created and h.state != "DELETED"
                ]
                continue
            found.append(f"drill cluster {cluster_id} ({cluster.state}) in {region}")
            found += [
                f"HSM {h.hsm_id} ({h.state}) of drill cluster {cluster_id}"
                for h in cluster.hsms
                if h.state != "DELETED"
            ]
    except CloudHsmDrError as error:
        found.append(f"the drill clusters in {region} could not be read: {error}")
    group = (run.get("cluster") or {}).get("security_group")
    if settings.key_verification and group:
        rules = support.network_rules(job, settings, group)
        try:
            if rules.egress is not None and Ec2.for_region(settings.primary_region).egress_present(
                settings.verifier_security_group, rules.egress
            ):
                found.append(
                    f"the verifier's egress rule to the drill cluster's group {group} "
                    f"(security group {settings.verifier_security_group})"
                )
        except Exception as error:  # the report must still be written
            found.append(f"the verifier's egress rule could not be read: {type(error).__name__}")
    return found


def _store(settings: DrillSettings, document: Mapping[str, Any]) -> None:
    import boto3

    keys = document["report"]
    s3 = boto3.client("s3", region_name=settings.primary_region)
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=keys["json_key"],
        Body=to_json(document).encode(),
        ContentType="application/json",
    )
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=keys["markdown_key"],
        Body=render_markdown(document).encode(),
        ContentType="text/markdown; charset=utf-8",
    )
    s3.put_object(
        Bucket=settings.report_bucket,
        Key=keys["html_key"],
        Body=render_html(document, past_reports(s3, settings.report_bucket)).encode(),
        ContentType="text/html; charset=utf-8",
    )


def past_reports(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The last drills' JSON reports (their keys start with the date), for the trend.
    A read that fails leaves the trend short, never the report unwritten."""
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REPORT_PREFIX)
        listed = [o["Key"] for page in pages for o in page.get("Contents", [])]
        keys = sorted(key for key in listed if key.endswith(".json"))[-TREND_LIMIT:]
        return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]
    except Exception as error:  # the report must still be written
        logger.warning("past drill reports unreadable", extra={"error": type(error).__name__})
        return []
