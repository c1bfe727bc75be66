"""Each role holds exactly the buckets, prefixes and actions its code uses."""

from __future__ import annotations

import pytest

from stack.permissions import DELETE_VERSION, LIST, READ_VERSION, WRITE
from tests.infra.conftest import Synthesized, actions_on

pytestmark = pytest.mark.infra

READ, RW, READ_DELETE = set(READ_VERSION), set(READ_VERSION + WRITE), set(READ_VERSION + DELETE_VERSION)


def s3_part(table: dict[str, set[str]]) -> dict[str, set[str]]:
    return {resource: actions for resource, actions in table.items() if any(a.startswith("s3:") for a in actions)}


def test_no_policy_allows_a_wildcard_action(synth: Synthesized) -> None:
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if "*" in a], statement


def test_no_role_uses_managed_policies_except_cdks_notification_handler(synth: Synthesized) -> None:
    for logical_id, role in synth.resources("AWS::IAM::Role").items():
        if logical_id.startswith("BucketNotificationsHandler"):
            continue
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_transformer_reads_originals_and_writes_only_outputs(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("ComputeTransformFunctionRole"))
    assert s3_part(table) == {
        "Staging/*": READ,
        "Archive/failed/*": READ,
        "Archive/outputs/*": RW,
        "Archive/superseded/*": RW,
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_batch_job_has_the_transformers_permissions(synth: Synthesized) -> None:
    job = s3_part(actions_on(synth.policy_statements("ComputeJobRole")))
    transformer = s3_part(actions_on(synth.policy_statements("ComputeTransformFunctionRole")))
    assert job == transformer


def test_archive_moves_staging_into_originals(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("ComputeArchiveFunctionRole"))
    assert s3_part(table) == {
        "Staging/*": READ_DELETE,
        "Archive/originals/*": RW,
        "Archive/superseded/*": RW,
        "Archive/failed/*": READ_DELETE,
        "Archive/errors/*": READ_DELETE,
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_failure_move_writes_only_the_failure_prefix_and_records(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("ComputeFailureFunctionRole"))
    assert s3_part(table) == {
        "Staging/*": READ_DELETE,
        "Archive/failed/*": RW,
        "Archive/errors/*": RW,
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_trigger_only_starts_executions_and_reads_its_queue(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("IntakeTriggerFunctionRole"))
    assert table["WorkflowStateMachine8F1B1C15"] == {"states:StartExecution"}
    assert table["IntakeQueue6FB53B87"] >= {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    assert not s3_part(table)
    (logs,) = [r for r in table if r.startswith("IntakeTriggerFunctionLogs")]
    assert table[logs] == {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_state_machine_invokes_its_functions_and_runs_batch_jobs(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("WorkflowRole"))
    invoked = sorted(r for r, actions in table.items() if actions == {"lambda:InvokeFunction"})
    assert [r.removeprefix("Compute").rstrip(":*")[:8] for r in invoked] == ["ArchiveF"] * 2 + ["FailureF"] * 2 + [
        "Transfor"
    ] * 2
    assert table["ComputeJobQueueB489A4FF"] == {"batch:SubmitJob"}
    assert table["ComputeJobDefinition31345E13"] == {"batch:SubmitJob"}
    assert {"events:PutRule", "events:PutTargets", "events:DescribeRule"} <= set().union(
        *(a for r, a in table.items() if "StepFunctionsGetEventsForBatchJobsRule" in r)
    )
    assert "s3:GetObject" not in set().union(*table.values())
