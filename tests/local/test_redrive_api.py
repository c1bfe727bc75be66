"""RedriveExecution as Step Functions answers it, in moto with the adapter (filepipe/local/adapter/redrive.py).

In-process and quick: the definitions are Pass, Choice, Wait and Fail states, whose behaviour
on a redrive AWS documents. The pipeline's own redrives run in tests/local/test_redrive.py.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from filepipe.local import adapter

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"

UNTIL_REDRIVEN = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"done": True}, "ResultPath": "$.prepared", "Next": "Decide"},
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericGreaterThan": 0, "Next": "Report"}],
        },
        "Report": {
            "Type": "Pass",
            "Parameters": {"count.$": "$$.Execution.RedriveCount", "time.$": "$$.Execution.RedriveTime", "in.$": "$"},
            "End": True,
        },
    },
}
"""``Decide`` has no rule for a first run, which fails in it; redriven, it goes on."""


@contextlib.contextmanager
def state_machines() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    adapter.apply()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def sfn() -> Iterator[Any]:
    with state_machines() as client:
        yield client


def machine(sfn: Any, definition: dict[str, Any], name: str = "m", kind: str = "STANDARD") -> str:
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind)[
            "stateMachineArn"
        ]
    )


def ended(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(400):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.025)
    raise AssertionError(f"{arn} did not end")


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn)["events"])


def code(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def backend_execution(arn: str) -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(arn)


def failed_once(sfn: Any) -> str:
    arn = machine(sfn, UNTIL_REDRIVEN)
    execution = sfn.start_execution(stateMachineArn=arn, name="once", input=json.dumps({"file": "a.csv"}))
    described = ended(sfn, execution["executionArn"])
    assert described["status"] == "FAILED", "no rule matched in Decide"
    for _ in range(400):  # the status is FAILED a moment before ExecutionFailed is in the history
        if history(sfn, execution["executionArn"])[-1]["type"] == "ExecutionFailed":
            break
        time.sleep(0.025)
    return str(execution["executionArn"])


def test_a_redrive_reruns_the_unsuccessful_state_with_its_recorded_input_under_the_same_arn(sfn: Any) -> None:
    arn = failed_once(sfn)
    first = history(sfn, arn)
    assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "REDRIVABLE"
    date = sfn.redrive_execution(executionArn=arn)["redriveDate"]
    described = ended(sfn, arn)
    assert described["status"] == "SUCCEEDED" and "error" not in described and "cause" not in described
    output = json.loads(described["output"])
    assert output["count"] == 1 and datetime.datetime.fromisoformat(output["time"].replace("Z", "+00:00")) == date
    assert output["in"] == {"file": "a.csv", "prepared": {"done": True}}, "the input Decide was entered with"
    events = history(sfn, arn)
    assert events[: len(first)] == first, "the first attempt's history is kept"
    redriven = events[len(first)]
    assert redriven["type"] == "ExecutionRedriven" and redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert redriven["previousEventId"] == first[-1]["id"]
    after = [e.get("stateEnteredEventDetails", {}).get("name") for e in events[len(first) :]]
    assert "Prepare" not in after and after.count("Decide") == 1, "the state that succeeded is not rerun"
    assert (described["redriveCount"], described["redriveDate"]) == (1, date)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven."


def test_an_execution_never_redriven_has_a_redrive_count_of_zero(sfn: Any) -> None:
    counting = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.RedriveCount"}, "End": True}},
    }
    arn = sfn.start_execution(stateMachineArn=machine(sfn, counting), name="c")["executionArn"]
    described = ended(sfn, arn)
    assert json.loads(described["output"]) == {"n": 0}
    assert described["redriveCount"] == 0 and "redriveDate" not in described


def test_succeeded_running_express_and_unknown_executions_are_refused(sfn: Any) -> None:
    arn = failed_once(sfn)
    sfn.redrive_execution(executionArn=arn)
    ended(sfn, arn)
    assert code(lambda: sfn.redrive_execution(executionArn=arn)) == (
        "ExecutionNotRedrivable",
        "Execution is SUCCEEDED and cannot be redriven.",
    )
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
    running = sfn.start_execution(stateMachineArn=machine(sfn, waiting, "w"), name="r")["executionArn"]
    assert code(lambda: sfn.redrive_execution(executionArn=running)) == (
        "ExecutionNotRedrivable",
        "Execution is RUNNING and cannot be redriven.",
    )
    described = sfn.describe_execution(executionArn=running)
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution is RUNNING and cannot be redriven.",
    )
    sfn.stop_execution(executionArn=running)
    express = machine(sfn, UNTIL_REDRIVEN, "x", kind="EXPRESS")
    express_arn = sfn.start_execution(stateMachineArn=express, name="e")["executionArn"]
    assert code(lambda: sfn.redrive_execution(executionArn=express_arn))[0] == "ExecutionNotRedrivable"
    missing = arn.rsplit(":", 1)[0] + ":nobody"
    assert code(lambda: sfn.redrive_execution(executionArn=missing))[0] == "ExecutionDoesNotExist"


def test_past_fourteen_days_or_at_the_history_limit_an_execution_cannot_be_redriven(sfn: Any) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType

    old, full = failed_once(sfn), None
    execution = backend_execution(old)
    execution.stop_date -= datetime.timedelta(days=14, seconds=1)
    assert code(lambda: sfn.redrive_execution(executionArn=old)) == (
        "ExecutionNotRedrivable",
        "Execution redrivable period exceeded.",
    )
    execution.stop_date += datetime.timedelta(seconds=2)
    env = execution.exec_worker.env
    room = adapter.redrive.HISTORY_LIMIT - adapter.redrive.REDRIVE_EVENTS - len(history(sfn, old))
    for _ in range(room):
        env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.PassStateEntered)
    assert sfn.describe_execution(executionArn=old)["redriveStatus"] == "REDRIVABLE", "24,998 events leave room"
    env.event_manager.add_event(context=env.event_history_context, event_type=HistoryEventType.PassStateEntered)
    full = sfn.describe_execution(executionArn=old)
    assert full["redriveStatusReason"] == "Execution history event limit exceeded."
    assert code(lambda: sfn.redrive_execution(executionArn=old))[0] == "ExecutionNotRedrivable"


def test_aborted_and_timed_out_executions_are_redriven_from_the_state_they_were_in(sfn: Any) -> None:
    waiting = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Succeed"}},
    }
    stopped = sfn.start_execution(stateMachineArn=machine(sfn, waiting, "w"), name="s")["executionArn"]
    sfn.stop_execution(executionArn=stopped)
    assert ended(sfn, stopped)["status"] == "ABORTED"
    sfn.redrive_execution(executionArn=stopped)
    assert ended(sfn, stopped)["status"] == "SUCCEEDED"
    slow = {"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "End": True}}}
    timed_out = sfn.start_execution(stateMachineArn=machine(sfn, slow, "t"), name="t")["executionArn"]
    assert ended(sfn, timed_out)["status"] == "TIMED_OUT"
    sfn.redrive_execution(executionArn=timed_out)
    assert ended(sfn, timed_out)["status"] == "TIMED_OUT", "the machine's timeout starts again, and passes again"
    types = [e["type"] for e in history(sfn, timed_out)]
    assert types[types.index("ExecutionRedriven") :] == ["ExecutionRedriven", "WaitStateEntered", "ExecutionTimedOut"]


def test_a_client_token_redrives_once(sfn: Any) -> None:
    arn = failed_once(sfn)
    first = sfn.redrive_execution(executionArn=arn, clientToken="retry-1")["redriveDate"]
    again = sfn.redrive_execution(executionArn=arn, clientToken="retry-1")["redriveDate"]
    assert first == again
    assert ended(sfn, arn)["redriveCount"] == 1
    assert sum(e["type"] == "ExecutionRedriven" for e in history(sfn, arn)) == 1


def test_list_executions_counts_redrives_and_filters_by_them(sfn: Any) -> None:
    redriven = failed_once(sfn)
    arn = redriven.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    untouched = sfn.start_execution(stateMachineArn=arn, name="other")["executionArn"]
    ended(sfn, untouched)
    sfn.redrive_execution(executionArn=redriven)
    ended(sfn, redriven)
    listed = {e["name"]: e for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
    assert (listed["once"]["redriveCount"], listed["other"]["redriveCount"]) == (1, 0)
    assert "redriveDate" in listed["once"] and "redriveDate" not in listed["other"]

    def names(**filters: Any) -> list[str]:
        return [e["name"] for e in sfn.list_executions(stateMachineArn=arn, **filters)["executions"]]

    assert names(redriveFilter="REDRIVEN") == ["once"]
    assert names(redriveFilter="NOT_REDRIVEN") == ["other"]
    assert names(redriveFilter="NOT_REDRIVEN", statusFilter="SUCCEEDED") == []
    express = machine(sfn, UNTIL_REDRIVEN, "x", kind="EXPRESS")
    assert code(lambda: sfn.list_executions(stateMachineArn=express, redriveFilter="REDRIVEN"))[0] == (
        "StateMachineTypeNotSupported"
    )


def test_a_redrive_the_local_cloud_does_not_model_is_refused_rather_than_run_differently(sfn: Any) -> None:
    """AWS reruns only a Parallel state's failed branches; the local cloud says it cannot."""
    parallel = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Broken", "States": {"Broken": {"Type": "Fail", "Error": "E"}}},
                ],
                "End": True,
            }
        },
    }
    arn = sfn.start_execution(stateMachineArn=machine(sfn, parallel, "p"), name="p")["executionArn"]
    assert ended(sfn, arn)["status"] == "FAILED"
    refused, message = code(lambda: sfn.redrive_execution(executionArn=arn))
    assert refused == "ValidationException" and "does not model redriving the StateParallel state 'Both'" in message
