#!/usr/bin/env python3
"""The CDK app: the only place that reads context or the environment."""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from filepipe.deployment import Deployment
from filepipe.transforms import csv_schemas
from stack import FilepipeStack


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, FilepipeStack]:
    app = app or cdk.App()
    config = Deployment.from_context(app.node.try_get_context)
    csv_schemas.validate(csv_schemas.SCHEMAS)  # the declared CSV schemas deploy with the code: refuse a bad file now
    stack_name = app.node.try_get_context("stackName") or "Filepipe"
    env = None
    if config.vpc_id:
        env = cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        )
    stack = FilepipeStack(app, stack_name, config=config, env=env, description="filepipe: two-bucket file processing")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
