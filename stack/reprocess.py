"""Reprocess: the machine that sends archived originals back through the pipeline when an older
transform version made their outputs.

``state_machine/reprocess.asl.json`` lists the archive's outputs with a Distributed Map and hands
them to the reprocess function (``filepipe.reprocess``), which copies each outdated output's
original server-side back into staging; the upload's own path takes it from there. ``filepipe
reprocess TRANSFORM`` starts it.
"""

from __future__ import annotations

from constructs import Construct

from stack.compute import Compute
from stack.names import StackNames
from stack.workflow import state_machine


class Reprocess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, compute: Compute, registry: StackNames) -> None:
        super().__init__(scope, construct_id)
        self.function = compute.function("reprocess", scope=self)
        self.state_machine, _ = state_machine(self, registry, "reprocess", name=registry.machine_name("reprocess"))
        self.role = registry.roles["reprocess_state_machine"]
