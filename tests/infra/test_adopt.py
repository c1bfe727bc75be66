"""Buckets the stack does not own: existing staging and archive buckets by context, their events
through EventBridge (their own notification configuration left alone), SSE-KMS by a key ARN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from app import build_app
from filepipe.grants import PRINCIPALS, Kind, Named
from tests.infra.conftest import actions_on

pytestmark = pytest.mark.infra

KEY = "arn:aws:kms:us-east-1:123456789012:key/0b0c6bd0-4a25-4d25-9f5e-9b3a4e0d5f11"
CONTEXT = {"stagingBucketName": "team-uploads", "archiveBucketName": "team-archive", "kmsKeyArn": KEY}


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app, stack = build_app(App(outdir=str(tmp_path_factory.mktemp("adopted")), context=CONTEXT))
    return dict(app.synth().get_stack_by_name(stack.stack_name).template)


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_name}


def role_statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if any(r["Ref"].startswith(prefix) for r in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_no_bucket_is_created_for_existing_ones(adopted: dict[str, Any]) -> None:
    assert not resources(adopted, "AWS::S3::Bucket"), "not even an access-log bucket: nothing would log to it"


def test_events_come_through_eventbridge_and_the_buckets_own_notifications_stay(adopted: dict[str, Any]) -> None:
    (rule,) = resources(adopted, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"] == {"bucket": {"name": ["team-uploads"]}}
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("IntakeQueue")
    (notifications,) = resources(adopted, "Custom::S3BucketNotifications").values()
    props = notifications["Properties"]
    assert props["Managed"] is False, "an imported bucket's other notifications are kept, not replaced"
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_kms_goes_to_exactly_the_roles_that_read_and_write_objects(adopted: dict[str, Any]) -> None:
    granted = {}
    for principal, prefix in {
        "transform": "ComputeTransformFunctionRole",
        "job": "ComputeJobRole",
        "archive": "ComputeArchiveFunctionRole",
        "failure": "ComputeFailureFunctionRole",
        "upload_api": "UploadApiUploadApiFunctionRole",
        "upload": "UploadApiUploadRole",
        "trigger": "IntakeTriggerFunctionRole",
        "state_machine": "WorkflowRole",
    }.items():
        table = actions_on(role_statements(adopted, prefix))
        granted[principal] = table.get(KEY, set())
    expected = {p: set() for p in granted}
    for principal in granted:
        for grant in PRINCIPALS[principal].grants:
            if Named(Kind.KMS_KEY) in grant.resources:
                expected[principal] |= set(grant.actions)
    assert granted == expected
    assert {p for p, actions in granted.items() if actions} == {
        "transform",
        "job",
        "archive",
        "failure",
        "upload_api",
        "upload",
    }


def test_without_a_key_no_role_mentions_kms(synth: Any) -> None:
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a.startswith("kms:")], statement


def test_the_grants_reach_the_existing_buckets(adopted: dict[str, Any], tmp_path: Path) -> None:
    table = actions_on(role_statements(adopted, "ComputeTransformFunctionRole"))
    readable = " ".join(table)
    assert "team-uploads" in readable and "team-archive" in readable
