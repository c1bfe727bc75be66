"""Monitoring: alarms for failed executions, dead letters, a stalled intake and Lambda errors,
and a dashboard of both tiers: files by outcome, tier and path, bytes, transform time, the intake
queue's age, dead letters, and both machines' executions."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

STALLED_INTAKE_SECONDS = 900
METRICS_NAMESPACE = "filepipe"
BATCH_INTEGRATION = f"arn:{Aws.PARTITION}:states:::batch:submitJob.sync"
"""Step Functions publishes each service integration's metrics under the task's resource ARN."""


def transform_failures(period: Duration) -> cw.MathExpression:
    """The transformer's failures on both tiers. Not Lambda's ``Errors``: a duplicate Express
    execution and a hand-over to the Standard machine are raised on purpose (the workflow routes
    them by name), and would fire the alarm on every Express duplicate. The handler counts every
    other error it raises as ``TransformFailures`` (``transform_lambda/handler.py``)."""
    series = {
        tier: cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="TransformFailures",
            dimensions_map={"service": "filepipe-transform", "tier": tier},
            statistic="Sum",
            period=period,
        )
        for tier in ("standard", "express")
    }
    return cw.MathExpression(
        expression="FILL(standard, 0) + FILL(express, 0)",
        using_metrics=dict(series),
        period=period,
        label="TransformFailures",
    )


class Monitoring(Construct):
    """Every alarm fires on the first occurrence: in this pipeline one failure is one file."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        express_state_machine: sfn.StateMachine,
        intake_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        functions: dict[str, lambda_.IFunction],
        alarm_topic_arn: str | None,
        backfill_state_machine: sfn.StateMachine,
        reprocess_state_machine: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []
        period = Duration.minutes(5)
        self._alarm(
            "ExecutionsFailed",
            state_machine.metric_failed(period=period, statistic="Sum"),
            "A file ended in the failure prefix (or could not be moved there): see the execution.",
        )
        self._alarm(
            "ExecutionsTimedOut",
            state_machine.metric_timed_out(period=period, statistic="Sum"),
            "An execution timed out.",
        )
        self._alarm(
            "ExpressExecutionsFailed",
            express_state_machine.metric_failed(period=period, statistic="Sum"),
            "An Express execution failed (its file was handed to the Standard machine or is in staging): "
            "see the Express log group.",
        )
        self._alarm(
            "ExpressExecutionsTimedOut",
            express_state_machine.metric_timed_out(period=period, statistic="Sum"),
            "An Express execution hit the five-minute limit (its file is still in staging).",
        )
        self._alarm(
            "SweepFoundFiles",
            cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="FilesStartedFromListing",
                dimensions_map={"reason": "sweep", "service": "filepipe-trigger"},
                statistic="Sum",
                period=period,
            ),
            "The sweep found files in staging that no execution had taken (a lost event): they are started now; "
            "look for why their events did not arrive.",
        )
        self._alarm(
            "BackfillsFailed",
            backfill_state_machine.metric_failed(period=period, statistic="Sum"),
            "A backfill or sweep execution failed (more than 5% of its objects could not be started).",
        )
        self._alarm(
            "ReprocessesFailed",
            reprocess_state_machine.metric_failed(period=period, statistic="Sum"),
            "A reprocess execution failed (more than 5% of its outputs' originals could not be sent back).",
        )
        self._alarm(
            "DeadLetters",
            dead_letter_queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
            "Intake messages that never started an execution are in the dead-letter queue.",
        )
        self._alarm(
            "IntakeStalled",
            intake_queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum"),
            "Uploads have waited over 15 minutes for an execution to start.",
            threshold=STALLED_INTAKE_SECONDS,
        )
        for name, function in functions.items():
            if name == "Transform":
                self._alarm(
                    "TransformErrors",
                    transform_failures(period),
                    "The Transform function failed (its duplicates and hand-overs to the Standard machine are not "
                    "counted); a timeout or out-of-memory end fails the execution, which ExecutionsFailed reports.",
                )
                continue
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=period, statistic="Sum"),
                f"The {name} function raised errors.",
            )
        self.dashboard = self._dashboard(state_machine, express_state_machine, intake_queue, dead_letter_queue)
        if alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn)
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _dashboard(
        self,
        standard: sfn.StateMachine,
        express: sfn.StateMachine,
        intake_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
    ) -> cw.Dashboard:
        period = Duration.minutes(5)

        def search(metric: str, statistic: str, dimensions: str = "outcome,path,service,tier") -> cw.MathExpression:
            """Every series of one of the handlers' metrics (one per combination of dimensions)."""
            return cw.MathExpression(
                expression=(
                    f"SEARCH('{{{METRICS_NAMESPACE},{dimensions}}} MetricName=\"{metric}\"', "
                    f"'{statistic}', {int(period.to_seconds())})"
                ),
                label="",
                period=period,
            )

        def executions(machine: sfn.StateMachine, tier: str) -> list[cw.IMetric]:
            return [
                machine.metric_started(period=period, statistic="Sum", label=f"{tier} started"),
                machine.metric_succeeded(period=period, statistic="Sum", label=f"{tier} succeeded"),
                machine.metric_failed(period=period, statistic="Sum", label=f"{tier} failed"),
            ]

        dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        dashboard.add_widgets(
            cw.GraphWidget(title="Files by outcome, tier and path", left=[search("Files", "Sum")], width=12),
            cw.GraphWidget(title="Bytes by outcome, tier and path", left=[search("Bytes", "Sum")], width=12),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Transform seconds (p50, p99)",
                left=[search("TransformSeconds", p, "service,tier") for p in ("p50", "p99")],
                width=8,
            ),
            cw.GraphWidget(
                title="Intake: oldest message (s) and dead letters",
                left=[intake_queue.metric_approximate_age_of_oldest_message(period=period, statistic="Maximum")],
                right=[dead_letter_queue.metric_approximate_number_of_messages_visible(period=period)],
                width=8,
            ),
            cw.GraphWidget(
                title="Executions: Standard (large files, retries) and Express (small files)",
                left=executions(standard, "standard") + executions(express, "express"),
                width=8,
            ),
        )
        batch = {"ServiceIntegrationResourceArn": BATCH_INTEGRATION}
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Batch jobs (the large-file path, as Step Functions ran them)",
                left=[
                    cw.Metric(
                        namespace="AWS/States",
                        metric_name=name,
                        dimensions_map=batch,
                        statistic="Sum",
                        period=period,
                        label=label,
                    )
                    for name, label in (
                        ("ServiceIntegrationsScheduled", "submitted"),
                        ("ServiceIntegrationsSucceeded", "succeeded"),
                        ("ServiceIntegrationsFailed", "failed"),
                        ("ServiceIntegrationsTimedOut", "timed out (no capacity)"),
                    )
                ],
                width=24,
            )
        )
        return dashboard

    def _alarm(self, name: str, metric: cw.IMetric, description: str, threshold: float = 1) -> None:
        self.alarms.append(
            cw.Alarm(
                self,
                name,
                metric=metric,
                alarm_description=f"filepipe: {description}",
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        )
