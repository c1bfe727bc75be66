"""The trigger: every record, one execution per object version, failures reported per message."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest

from filepipe.events import ObjectRef, execution_name
from filepipe.trigger import Trigger
from tests.conftest import REGION, Faulty, load_event

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def sfn(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def machine(sfn: Any) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return str(sfn.create_state_machine(name="filepipe", definition=DEFINITION, roleArn=role)["stateMachineArn"])


def started(sfn: Any, machine: str) -> list[dict[str, Any]]:
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def test_sqs_batch_starts_one_execution_per_created_object(sfn: Any, machine: str) -> None:
    report = Trigger(sfn, machine).handle(load_event("sqs_batch.json"))
    assert report.failed_message_ids == []
    assert report.batch_response() == {"batchItemFailures": []}
    inputs = started(sfn, machine)
    assert sorted(i["key"] for i in inputs) == [
        "deep/dir/日本語 ファイル.bin",
        "incoming/a.csv",
        "incoming/naïve café 100%.txt",
    ]
    assert set(inputs[0]) == {"bucket", "key", "versionId", "etag", "size", "sequencer", "eventTime"}
    assert sorted(report.ignored) == ["ObjectRemoved:Delete incoming/a.csv", "s3:TestEvent"]


def test_a_repeated_delivery_starts_nothing_new(sfn: Any, machine: str) -> None:
    """While the first execution runs, StartExecution with the same name and input is idempotent."""
    trigger = Trigger(sfn, machine)
    first = trigger.handle(load_event("sqs_batch.json"))
    second = trigger.handle(load_event("sqs_batch.json"))
    assert len(first.started) == 3
    assert second.failed_message_ids == []
    assert len(started(sfn, machine)) == 3


def test_execution_already_exists_counts_as_done(sfn: Any, machine: str) -> None:
    """Once the first execution has ended, Step Functions answers ExecutionAlreadyExists."""
    closed = Faulty(sfn, {"start_execution": ["ExecutionAlreadyExists"]})
    report = Trigger(closed, machine).handle(load_event("s3_put.json"))
    assert report.started == []
    assert len(report.duplicates) == 1
    assert report.failed_message_ids == []


def test_throttling_reports_only_that_message_for_redelivery(sfn: Any, machine: str) -> None:
    throttled = Faulty(sfn, {"start_execution": [None, None, "ThrottlingException"]})
    report = Trigger(throttled, machine).handle(load_event("sqs_batch.json"))
    assert report.batch_response() == {"batchItemFailures": [{"itemIdentifier": "msg-3"}]}
    redelivered = {"Records": [load_event("sqs_batch.json")["Records"][2]]}
    assert Trigger(sfn, machine).handle(redelivered).failed_message_ids == []
    assert len(started(sfn, machine)) == 3


def test_a_throttled_record_fails_its_message_but_the_others_start(sfn: Any, machine: str) -> None:
    throttled = Faulty(sfn, {"start_execution": ["ThrottlingException"]})
    report = Trigger(throttled, machine).handle(load_event("sqs_batch.json"))
    assert report.failed_message_ids == ["msg-1"]
    assert len(report.started) == 2, "msg-1's second record and msg-3 still started"


def test_malformed_messages_are_logged_whole_and_reported(
    sfn: Any, machine: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = load_event("sqs_batch.json")
    event["Records"][0]["body"] = "{not json"
    event["Records"][1]["body"] = json.dumps({"hello": "world"})
    with caplog.at_level(logging.ERROR):
        report = Trigger(sfn, machine).handle(event)
    assert report.failed_message_ids == ["msg-1", "msg-2"]
    assert len(report.started) == 1
    bodies = [getattr(r, "body", None) for r in caplog.records]
    assert "{not json" in bodies and json.dumps({"hello": "world"}) in bodies


def test_a_non_transient_start_error_is_reported_not_dropped(sfn: Any, machine: str) -> None:
    broken = Faulty(sfn, {"start_execution": ["StateMachineDoesNotExist"]})
    report = Trigger(broken, machine).handle({"Records": [load_event("sqs_batch.json")["Records"][2]]})
    assert report.failed_message_ids == ["msg-3"]


@pytest.mark.parametrize("name", ["s3_put.json", "eventbridge_object_created.json"])
def test_direct_notifications_start_executions(sfn: Any, machine: str, name: str) -> None:
    report = Trigger(sfn, machine).handle(load_event(name))
    assert len(report.started) == 1
    (state,) = started(sfn, machine)
    assert report.started == [execution_name(ObjectRef.from_state(state))]


def test_small_files_start_on_the_express_machine_large_ones_on_standard(sfn: Any, machine: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.get_role(RoleName="sfn")["Role"]["Arn"]
    express = sfn.create_state_machine(name="filepipe-express", definition=DEFINITION, roleArn=role, type="EXPRESS")
    trigger = Trigger(sfn, machine, express_arn=express["stateMachineArn"], express_max_bytes=100)
    small = ObjectRef("staging", "small.csv", "v1", size=100)
    large = ObjectRef("staging", "large.csv", "v2", size=101)
    assert trigger.machine_for(small) == express["stateMachineArn"]
    assert trigger.machine_for(large) == machine
    assert Trigger(sfn, machine).machine_for(small) == machine, "no Express machine: everything on Standard"
    report = Trigger(sfn, machine, express_arn=express["stateMachineArn"], express_max_bytes=100).handle(
        load_event("sqs_batch.json")
    )
    assert report.failed_message_ids == []
    assert len(report.started) == 3
