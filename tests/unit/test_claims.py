"""One execution at a time per object version: the lease the transform step takes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from filepipe.claims import (
    CLOCK_MARGIN_SECONDS,
    EXPRESS_LIMIT_SECONDS,
    Claims,
    DuplicateExecution,
    ExecutionId,
    history_of,
)
from filepipe.events import ObjectRef
from tests.conftest import REGION

VERSION = "report_csv-0123456789abcdef"
MACHINE = "arn:aws:states:us-east-1:123456789012"
EXPRESS_A = f"{MACHINE}:express:filepipe-express:{VERSION}:11111111-aaaa"
EXPRESS_B = f"{MACHINE}:express:filepipe-express:{VERSION}:22222222-bbbb"
STANDARD = f"{MACHINE}:execution:filepipe:{VERSION}"
RETRY = f"{MACHINE}:execution:filepipe:{VERSION}-retry1"
NOW = 1_800_000_000.0


@pytest.fixture
def claims(aws: None) -> Claims:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="claims",
        AttributeDefinitions=[{"AttributeName": "version", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "version", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return Claims(dynamodb, "claims")


def holder(claims: Claims) -> Any:
    item = claims.dynamodb.get_item(TableName=claims.table, Key={"version": {"S": VERSION}}).get("Item")
    return item and item["holder"]["S"]


def test_execution_ids_tell_express_from_standard() -> None:
    assert ExecutionId(EXPRESS_A).express and ExecutionId(EXPRESS_A).name == VERSION
    assert not ExecutionId(STANDARD).express and ExecutionId(STANDARD).name == VERSION


def test_a_second_express_execution_is_a_duplicate(claims: Claims) -> None:
    claims.take(VERSION, EXPRESS_A, now=NOW)
    with pytest.raises(DuplicateExecution, match="already processing"):
        claims.take(VERSION, EXPRESS_B, now=NOW + 1)
    assert holder(claims) == EXPRESS_A


def test_the_holder_may_take_it_again(claims: Claims) -> None:
    """A Lambda retry of the same execution's transform step."""
    claims.take(VERSION, EXPRESS_A, now=NOW)
    claims.take(VERSION, EXPRESS_A, now=NOW + 30)
    assert holder(claims) == EXPRESS_A


def test_an_express_lease_ends_when_no_express_execution_can_still_run(claims: Claims) -> None:
    claims.take(VERSION, EXPRESS_A, now=NOW)
    with pytest.raises(DuplicateExecution):
        claims.take(VERSION, EXPRESS_B, now=NOW + EXPRESS_LIMIT_SECONDS)
    claims.take(VERSION, EXPRESS_B, now=NOW + EXPRESS_LIMIT_SECONDS + CLOCK_MARGIN_SECONDS + 1)
    assert holder(claims) == EXPRESS_B


def test_the_standard_machine_takes_over_its_own_handover(claims: Claims) -> None:
    claims.take(VERSION, EXPRESS_A, now=NOW)
    claims.take(VERSION, STANDARD, now=NOW + 50)
    assert holder(claims) == STANDARD
    with pytest.raises(DuplicateExecution):
        claims.take(VERSION, EXPRESS_B, now=NOW + 3600)


def test_a_retry_does_not_take_over_a_running_express_execution(claims: Claims) -> None:
    claims.take(VERSION, EXPRESS_A, now=NOW)
    with pytest.raises(DuplicateExecution):
        claims.take(VERSION, RETRY, now=NOW + 10)


def test_a_retry_takes_over_an_earlier_standard_execution(claims: Claims) -> None:
    claims.take(VERSION, STANDARD, now=NOW)
    claims.take(VERSION, RETRY, now=NOW + 10)
    assert holder(claims) == RETRY


def test_only_the_holder_releases(claims: Claims) -> None:
    claims.take(VERSION, EXPRESS_A, now=NOW)
    claims.release(VERSION, EXPRESS_B)
    assert holder(claims) == EXPRESS_A
    claims.release(VERSION, EXPRESS_A)
    assert holder(claims) is None
    claims.take(VERSION, RETRY, now=NOW + 5)
    assert holder(claims) == RETRY


def test_history_points_express_executions_at_their_log_group() -> None:
    assert "CloudWatch Logs, log group /aws/vendedlogs/states/x" in history_of(EXPRESS_A, "/aws/vendedlogs/states/x")
    assert "Step Functions console" in history_of(STANDARD, "/aws/vendedlogs/states/x")


def test_the_holder_is_read_while_its_lease_runs(claims: Claims) -> None:
    assert claims.holder(VERSION, now=NOW) is None
    claims.take(VERSION, EXPRESS_A, now=NOW)
    assert claims.holder(VERSION, now=NOW + 10) == EXPRESS_A
    assert claims.holder(VERSION, now=NOW + 24 * 3600) is None, "an Express lease that ran out holds nothing"
    claims.release(VERSION, EXPRESS_A)
    assert claims.holder(VERSION, now=NOW + 10) is None


def test_a_claim_names_its_file_and_a_handover_names_the_express_execution(claims: Claims) -> None:
    """What ``status`` reads of an Express execution when its machine logs errors only."""
    ref = ObjectRef("staging", "reports/q3.csv", "v1")
    claims.take(VERSION, EXPRESS_A, now=NOW, ref=ref)
    claims.take("other-version", STANDARD.replace(VERSION, "other-version"), now=NOW, ref=ref)
    (claim,) = claims.express_claims()
    assert (claim.holder, claim.key, claim.version_id, claim.taken, claim.handed_over_by) == (
        EXPRESS_A,
        "reports/q3.csv",
        "v1",
        NOW,
        None,
    ), "only Express executions' claims are listed"
    assert claim.held(NOW + EXPRESS_LIMIT_SECONDS) and not claim.held(NOW + 3600)
    claims.take(VERSION, STANDARD, now=NOW + 50, ref=ref)
    (claim,) = claims.express_claims()
    assert (claim.holder, claim.handed_over_by, claim.taken) == (STANDARD, EXPRESS_A, NOW + 50)


def test_a_retry_taking_over_from_standard_names_no_express_execution(claims: Claims) -> None:
    claims.take(VERSION, STANDARD, now=NOW)
    claims.take(VERSION, RETRY, now=NOW + 10)
    assert list(claims.express_claims()) == []
