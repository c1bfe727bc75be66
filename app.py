#!/usr/bin/env python3
"""The CDK app: the only place that reads context or the environment."""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from filepipe.deployment import Deployment, validate_stack_name
from filepipe.deployment_rules import InvalidSetting
from filepipe.partitions import offers, partition_of
from filepipe.transforms import csv_schemas
from stack import FilepipeStack


def build_app(app: cdk.App | None = None, env: cdk.Environment | None = None) -> tuple[cdk.App, FilepipeStack]:
    """The app and its one stack, every setting checked first (``filepipe/deployment_rules``).

    Without ``env`` the stack is environment-agnostic (one template for any account and region),
    unless ``vpcId`` asks for a lookup; either way the account and region the CLI deploys to
    (``CDK_DEFAULT_ACCOUNT``/``CDK_DEFAULT_REGION``, set by ``cdk deploy``) are checked against the
    settings that name ARNs. ``env`` pins both (tests synthesize other regions and partitions so).
    """
    app = app or cdk.App()
    config = Deployment.from_context(app.node.try_get_context)
    csv_schemas.validate(csv_schemas.SCHEMAS)  # the declared CSV schemas deploy with the code: refuse a bad file now
    stack_name = app.node.try_get_context("stackName") or "Filepipe"
    validate_stack_name(stack_name)
    account = env.account if env else os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = env.region if env else os.environ.get("CDK_DEFAULT_REGION")
    config.validate_target(account, region)
    if env is None and config.vpc_id:
        env = cdk.Environment(account=account, region=region)
    # Cognito user pools are not offered everywhere (not in aws-cn): the stack makes none there.
    user_pool = region is None or offers("cognito-idp", partition_of(region).name)
    stack = FilepipeStack(
        app, stack_name, config=config, user_pool=user_pool, env=env, description="filepipe: two-bucket file processing"
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    try:
        app, _ = build_app()
    except InvalidSetting as refused:  # the message says it all: no traceback
        sys.exit(f"filepipe: {refused}")
    app.synth()
