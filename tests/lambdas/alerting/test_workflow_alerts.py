"""What a workflow's messages say about an error: its type and one line, nothing else."""

from __future__ import annotations

import json

from lambdas.alerting.workflow_alerts import error_summary


def test_a_lambda_error_keeps_its_type_and_first_line_and_drops_the_stack_trace() -> None:
    cause = json.dumps(
        {
            "errorMessage": "teardown crashed\nwhile deleting",
            "errorType": "SandboxInjectedCrash",
            "requestId": "1",
            "stackTrace": ['  File "/var/task/lambdas/drill/handler.py", line 9'],
        }
    )
    assert error_summary({"Error": "Lambda.Unknown", "Cause": cause}) == (
        "SandboxInjectedCrash",
        "teardown crashed",
    )


def test_a_json_cause_without_a_message_still_says_nothing_of_its_trace() -> None:
    cause = json.dumps({"errorType": "Boom", "stackTrace": ["/var/task/x.py"]})
    assert error_summary({"Error": "Boom", "Cause": cause}) == ("Boom", "(no message)")


def test_a_plain_cause_is_cut_to_its_first_line() -> None:
    error = {"Error": "States.Timeout", "Cause": "timed out\n  at /somewhere"}
    assert error_summary(error) == ("States.Timeout", "timed out")
