"""The steps of the DR drill state machine (runbook 9.3: quarterly DR drills).

Each call gets `{"step": NAME, "job": {...}}` and returns the updated job, which the
state machine keeps at `$.job`; waiting is the state machine's Wait/Choice loops.
The drill restores a real backup into an isolated cluster with one HSM, checks its
keys, measures, and always tears the cluster down.

Safety rules, enforced here and not only in IAM:
- nothing is created before `plan` passes (input, backup READY, subnets, quotas, no
  other drill cluster in the region);
- the drill cluster is tagged `hsmdr:drill=<execution id>` at CreateCluster; teardown
  deletes a cluster only if this execution recorded it (or finds it by that tag) AND
  its tags, read again right before each DeleteHsm/DeleteCluster, name this execution;
  a production (protected) cluster is refused whatever its tags say.

An EventBridge rule also sends this function the drill's TIMED_OUT and ABORTED
executions (`stopped`): it starts a teardown-only run of the state machine for each
(lambdas/drill/stop.py) and pages with the drill clusters they left behind.

This module only dispatches; the steps live beside it: plan_step.py, restore_steps.py
(cluster, HSM, keys), teardown_steps.py (and a stopped drill's), report_step.py, and
step_support.py for what they share.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.drill.plan_step import plan
from lambdas.drill.report_step import report
from lambdas.drill.restore_steps import (
    check_cluster,
    check_hsm,
    create_cluster,
    create_hsm,
    discard_hsm,
    open_network,
    record_keys,
)
from lambdas.drill.teardown_steps import resume_teardown, stopped, teardown
from lambdas.shared.errors import (
    InvalidInput,
)
from lambdas.shared.observability import logger, tracer

STEPS = {
    "create_cluster": create_cluster,
    "check_cluster": check_cluster,
    "open_network": open_network,
    "create_hsm": create_hsm,
    "check_hsm": check_hsm,
    "discard_hsm": discard_hsm,
}
EVENT_STEPS = {
    "plan": plan,
    "resume_teardown": resume_teardown,
    "record_keys": record_keys,
    "teardown": teardown,
    "report": report,
}


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        return stopped(event)
    step = event.get("step")
    if step in EVENT_STEPS:
        return EVENT_STEPS[step](event)
    if step not in STEPS:
        raise InvalidInput("step", f"{step!r} is not a step of the DR drill")
    return STEPS[step](json.loads(json.dumps(event["job"])))
