"""Finding the pipeline a command talks to: the local cloud's endpoint, or a deployed stack."""

from __future__ import annotations

import os

import boto3
import click
from botocore.config import Config

from filepipe.claims import Claims
from filepipe.config import ArchiveLayout
from filepipe.local.config import CREDENTIALS, REGION, LocalNaming
from filepipe.operations import Target

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def local_target(endpoint: str, naming: LocalNaming | None = None) -> Target:
    naming = naming or LocalNaming()
    session = boto3.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3)
    return Target(
        s3=session.client("s3", endpoint_url=endpoint, config=config),
        sfn=session.client("stepfunctions", endpoint_url=endpoint, config=config),
        staging_bucket=naming.staging_bucket,
        archive_bucket=naming.archive_bucket,
        state_machine_arn=naming.machine_arn("standard"),
        logs=session.client("logs", endpoint_url=endpoint, config=config),
        express_log_group=naming.log_group("express"),
        claims=Claims(session.client("dynamodb", endpoint_url=endpoint, config=config), naming.claims_table),
        backfill_state_machine_arn=naming.machine_arn("backfill"),
        reprocess_state_machine_arn=naming.machine_arn("reprocess"),
    )


def stack_target(stack: str, region: str | None = None) -> Target:
    """Read a deployed stack's outputs (see stack/pipeline_stack.py) with the usual AWS credentials."""
    session = boto3.Session(region_name=region)
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    }
    try:
        return Target(
            s3=session.client("s3"),
            sfn=session.client("stepfunctions"),
            staging_bucket=outputs["StagingBucketName"],
            archive_bucket=outputs["ArchiveBucketName"],
            state_machine_arn=outputs["StateMachineArn"],
            logs=session.client("logs"),
            express_log_group=outputs.get("ExpressLogGroupName"),
            claims=Claims(session.client("dynamodb"), outputs["ClaimsTableName"])
            if "ClaimsTableName" in outputs
            else None,
            backfill_state_machine_arn=outputs.get("BackfillStateMachineArn"),
            reprocess_state_machine_arn=outputs.get("ReprocessStateMachineArn"),
            layout=ArchiveLayout.from_outputs(outputs),
        )
    except KeyError as exc:
        raise click.ClickException(f"stack {stack} has no output {exc}; is it a filepipe stack?") from exc


def _claims(session: boto3.Session, table: str | None) -> Claims | None:
    """The stack's claims table (a stack deployed before issue 29 does not name it)."""
    return Claims(session.client("dynamodb"), table) if table else None


def target_options(func: click.decorators.FC) -> click.decorators.FC:
    """``--endpoint`` (the local cloud, the default) or ``--stack`` (a deployed stack)."""
    func = click.option("--stack", metavar="NAME", help="A deployed stack (uses your AWS credentials and region).")(
        func
    )
    func = click.option("--region", help="AWS region of --stack.")(func)
    return click.option(
        "--endpoint",
        default=lambda: os.environ.get("FILEPIPE_ENDPOINT", DEFAULT_ENDPOINT),
        show_default="$FILEPIPE_ENDPOINT or " + DEFAULT_ENDPOINT,
        help="The local cloud's endpoint.",
    )(func)


def resolve(endpoint: str, stack: str | None, region: str | None) -> Target:
    return stack_target(stack, region) if stack else local_target(endpoint)
