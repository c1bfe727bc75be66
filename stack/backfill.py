"""Backfill: the machine that starts files no event announced, and the sweep's schedule.

``state_machine/backfill.asl.json`` lists staging with a Distributed Map and hands each object to
the trigger, which starts it as its upload would have (``filepipe.backfill``). ``filepipe
backfill`` starts it for a prefix; the sweep's schedule (EventBridge Scheduler, disabled unless
``sweepEveryMinutes`` is set) starts it for objects older than ``sweepOlderThanMinutes``.
"""

from __future__ import annotations

import json

from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from stack import permissions as perm
from stack.names import StackNames
from stack.workflow import state_machine


class Backfill(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, registry: StackNames) -> None:
        super().__init__(scope, construct_id)
        config = registry.deployment
        self.state_machine, _ = state_machine(self, registry, "backfill", name=registry.machine_name("backfill"))
        self.role = registry.roles["backfill_state_machine"]
        self.schedule_role = perm.role(self, "SweepScheduleRole", "sweep_schedule")
        registry.roles["sweep_schedule"] = self.schedule_role
        every = config.sweep_every_minutes
        self.schedule = scheduler.CfnSchedule(
            self,
            "SweepSchedule",
            description="filepipe: start the backfill machine for staging objects no execution took (lost events)",
            schedule_expression=f"rate({every or 60} minute{'' if every == 1 else 's'})",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if every else "DISABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.state_machine.state_machine_arn,
                role_arn=self.schedule_role.role_arn,
                input=json.dumps(
                    {"prefix": "", "olderThanSeconds": config.sweep_older_than_minutes * 60, "reason": "sweep"}
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=3),
            ),
        )
