"""Each role holds exactly the buckets, prefixes and actions its code uses, and exactly what the
grants table (``filepipe/grants.py``) says: the table is what the local cloud enforces."""

from __future__ import annotations

import pytest

from filepipe.grants import COPY_IN_PARTS, DELETE_VERSION, LIST, PRINCIPALS, READ_VERSION, WRITE
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
        "Archive/grants/*": {"s3:GetObject"},
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_batch_job_has_the_transformers_permissions_and_writes_its_report(synth: Synthesized) -> None:
    job = s3_part(actions_on(synth.policy_statements("ComputeJobRole")))
    transformer = s3_part(actions_on(synth.policy_statements("ComputeTransformFunctionRole")))
    assert job == transformer | {"Archive/reports/*": {"s3:PutObject"}}


def test_archive_moves_staging_into_originals(synth: Synthesized) -> None:
    """A copy in parts goes on from the parts S3 lists, in the next invocation."""
    table = actions_on(synth.policy_statements("ComputeArchiveFunctionRole"))
    assert s3_part(table) == {
        "Staging/*": READ_DELETE,
        "Archive/originals/*": RW | set(COPY_IN_PARTS),
        "Archive/superseded/*": RW | set(COPY_IN_PARTS),
        "Archive/failed/*": READ_DELETE,
        "Archive/errors/*": READ_DELETE,
        "Archive/reports/*": {"s3:GetObject"},
        # The record of a failure a newer version resolved: written, and read by a retry of the
        # older version (it ends "resolved", moving nothing).
        "Archive/resolved/*": {"s3:PutObject", "s3:GetObject"},
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_failure_move_writes_only_the_failure_prefix_and_records(synth: Synthesized) -> None:
    """It reads originals/ too: a file whose archive copy was made before a failure is archived,
    not failed (without this grant every failure move was refused in AWS: issue 11)."""
    table = actions_on(synth.policy_statements("ComputeFailureFunctionRole"))
    assert s3_part(table) == {
        "Staging/*": READ_DELETE,
        "Archive/originals/*": READ,
        "Archive/failed/*": RW | set(COPY_IN_PARTS),
        "Archive/errors/*": RW | set(COPY_IN_PARTS),
        "Archive/reports/*": {"s3:GetObject"},
        "Archive": set(LIST),
        "Staging": set(LIST),
    }


def test_the_failure_function_answers_only_its_task_token(synth: Synthesized) -> None:
    """The workflow's Failed step reports the file's failure with SendTaskFailure (or, rerun by a
    Redrive, SendTaskSuccess). Task tokens have no ARN: the grant is on ``*``, and only these two."""
    table = actions_on(synth.policy_statements("ComputeFailureFunctionRole"))
    states = {resource: actions for resource, actions in table.items() if any(a.startswith("states:") for a in actions)}
    assert states == {"*": {"states:SendTaskSuccess", "states:SendTaskFailure"}}


def test_trigger_starts_executions_reads_its_queue_and_only_heads_staging(synth: Synthesized) -> None:
    """A backfill's listed objects are started by their current version: a HEAD of staging."""
    table = actions_on(synth.policy_statements("IntakeTriggerFunctionRole"))
    assert table["WorkflowStateMachine8F1B1C15"] == {"states:StartExecution"}
    assert table["IntakeQueue6FB53B87"] >= {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    assert s3_part(table) == {"Staging/*": {"s3:GetObject"}, "Staging": {"s3:ListBucket"}}
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


ROLES = {
    "trigger": "IntakeTriggerFunctionRole",
    "transform": "ComputeTransformFunctionRole",
    "archive": "ComputeArchiveFunctionRole",
    "failure": "ComputeFailureFunctionRole",
    "upload_api": "UploadApiUploadApiFunctionRole",
    "upload": "UploadApiUploadRole",
    "job": "ComputeJobRole",
    "state_machine": "WorkflowRole",
    "express_state_machine": "WorkflowExpressRole",
    "backfill_state_machine": "BackfillRole",
    "sweep_schedule": "BackfillSweepScheduleRole",
    "reprocess": "ReprocessReprocessFunctionRole",
    "reprocess_state_machine": "ReprocessRole",
}
PLATFORM_SERVICES = ("logs:", "xray:")
"""Log and trace delivery CDK grants beside each function and the state machine; the local cloud
has neither service, so the table leaves them to CDK."""


def test_every_principal_of_the_grants_table_has_a_role() -> None:
    assert set(ROLES) == set(PRINCIPALS)


@pytest.mark.parametrize("principal", sorted(ROLES))
def test_each_role_holds_exactly_its_grants_from_the_table(synth: Synthesized, principal: str) -> None:
    """What the local cloud enforces is what the stack deploys: no grant missing, none added
    beside the table (CDK's implicit grants included), for every role."""
    deployed = {}
    for resource, actions in actions_on(synth.policy_statements(ROLES[principal])).items():
        kept = {a for a in actions if not a.startswith(PLATFORM_SERVICES)}
        if kept:
            deployed[resource] = kept
    assert deployed == rendered(synth, principal)


def test_roles_trust_the_principal_the_table_names(synth: Synthesized) -> None:
    for principal, prefix in ROLES.items():
        (logical_id,) = [k for k in synth.resources("AWS::IAM::Role") if k.startswith(prefix) and "Default" not in k]
        (statement,) = synth.raw["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        expected = PRINCIPALS[principal].assumed_by
        if expected.endswith(".amazonaws.com"):
            assert statement["Principal"] == {"Service": expected}, principal
        else:
            assert statement["Principal"]["AWS"]["Fn::GetAtt"][0].startswith(ROLES[expected]), principal


def rendered(synth: Synthesized, principal: str) -> dict[str, set[str]]:
    """The table's grants for ``principal`` resolved in the synthesized stack."""
    stack = synth.stack
    names = stack.registry.names()
    statements = [
        {"Effect": "Allow", "Action": list(actions), "Resource": [stack.resolve(arn) for arn in arns]}
        for actions, arns in names.statements(PRINCIPALS[principal])
    ]
    return actions_on(statements)


def test_only_the_claim_takers_touch_the_claims_table(synth: Synthesized) -> None:
    """The transform step takes a version's claim; a failed execution gives it up; the upload
    API only reads who holds one (its status); nobody else (the Batch job runs only on the
    Standard machine, whose executions are started once)."""
    touching = {}
    for principal, prefix in ROLES.items():
        actions = set().union(*actions_on(synth.policy_statements(prefix)).values())
        if dynamodb := {a for a in actions if a.startswith("dynamodb:")}:
            touching[principal] = dynamodb
    assert touching == {
        "transform": {"dynamodb:PutItem"},
        "failure": {"dynamodb:DeleteItem"},
        "upload_api": {"dynamodb:GetItem"},
    }


def test_the_express_machine_hands_over_only_to_the_standard_one(synth: Synthesized) -> None:
    table = actions_on(synth.policy_statements("WorkflowExpressRole"))
    starts = [r for r, actions in table.items() if "states:StartExecution" in actions]
    assert [r.split("StateMachine")[0] for r in starts] == ["Workflow"], starts
    assert not any(a.startswith("batch:") for actions in table.values() for a in actions)
