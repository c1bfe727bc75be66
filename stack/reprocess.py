"""Reprocess: the machine that sends archived originals back through the pipeline when an older
transform version made their outputs.

``state_machine/reprocess.asl.json`` lists the archive's outputs with a Distributed Map and hands
them to the reprocess function (``filepipe.reprocess``), which copies each outdated output's
original server-side back into staging; the upload's own path takes it from there. ``filepipe
reprocess TRANSFORM`` starts it.
"""

from __future__ import annotations

from constructs import Construct

from stack import permissions as perm
from stack.compute import Compute, FunctionSpec
from stack.config import PipelineConfig
from stack.listing_machine import listing_machine
from state_machine import REPROCESS_PATH


class Reprocess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, compute: Compute, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.function = compute.function(
            FunctionSpec(
                "ReprocessFunction",
                "reprocess",
                "moves_lambda.handler.reprocess_handler",
                512,
                config.moves_timeout_seconds,
            ),
            scope=self,
        )
        perm.apply(self.function.role, "reprocess", compute.resources)  # type: ignore[arg-type]
        self.state_machine, self.role, _ = listing_machine(
            self,
            "reprocess",
            REPROCESS_PATH,
            {
                "ArchiveBucket": compute.resources.archive.bucket_name,
                "OutputsPrefix": config.outputs_prefix,
                "ReprocessFunctionArn": self.function.function_arn,
            },
            {"reprocess": self.function},
            compute,
            config,
        )
