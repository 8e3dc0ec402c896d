"""After a real DR drill in the sandbox: the recovery document's "Last drills" section
names the drill and its measured recovery time against the RTO, and the drill watcher
finds the drill's success in CloudWatch."""

from __future__ import annotations

import pytest

from hsmdr.inventory import gather, markdown
from presentation.render import duration
from sandbox.drill_scenarios import drill_sandbox, run_drill
from tests.sandbox.drill_support import CLUSTER, drill_templates
from tests.softhsm_support import require_softhsm

pytestmark = pytest.mark.slow


def test_the_inventory_and_the_drill_watcher_see_the_drill_that_just_ran() -> None:
    require_softhsm()
    with drill_sandbox(profile="test", templates=drill_templates()) as sandbox:
        # Given no drill yet: the watcher finds none within drills.period_days
        before = sandbox.deployment.invoke("watch-drills", {"source": "schedule"})
        assert before is not None and before.payload["status"] == "FAILED"
        assert before.payload["last_successful_drill"] is None
        # When a drill runs and writes its report
        drill = run_drill(sandbox)
        assert drill["status"] == "SUCCEEDED", (drill["error"], drill["cause"])
        # Then the watcher reads its DrillSucceeded metric back (as in AWS, from the
        # drill function's EMF lines) and the drill is no longer overdue
        after = sandbox.deployment.invoke("watch-drills", {"source": "schedule"})
        assert after is not None and after.payload["status"] == "SUCCEEDED", after.payload
        # (hourly resolution: within the hour in progress, or the one before)
        assert after.payload["days_since_successful_drill"] <= 2 / 24
        # And the recovery document (what `hsmdr sandbox inventory` runs) holds it too
        inventory = gather(sandbox.config)
    # Then its drills section holds that drill, measured against the config's RTO
    name = drill["execution_arn"].rsplit(":", 1)[-1]
    measured = drill["measurements"]
    drills = inventory["drills"]
    assert drills["status"] == "FOUND" and drills["reports_found"] == 1
    [entry] = drills["reports"]
    assert (entry["execution_name"], entry["outcome"]) == (name, "passed")
    assert entry["source_cluster_id"] == CLUSTER
    assert entry["backup_id"] == drill["backup"]["backup_id"]
    assert entry["recovery_time_seconds"] == measured["recovery_time_seconds"] > 0
    assert entry["time_to_restore_seconds"] == measured["time_to_restore_seconds"]
    assert entry["rto_minutes"] == sandbox.config.drills.rto_minutes and entry["rto_met"] is True
    assert (entry["key_check"], entry["teardown"]) == ("SUCCEEDED", "COMPLETE")
    assert entry["markdown_key"] == drill["report_markdown_key"]
    text = markdown(inventory)
    section = text[text.index("## Last drills") : text.index("## Contacts and escalation")]
    assert f"- `{name}` passed: started " in section
    recovery = duration(measured["recovery_time_seconds"])
    rto = sandbox.config.drills.rto_minutes
    assert f"recovery time {recovery}, within the {rto} min RTO" in section
    assert drill["report_markdown_key"] in section
