"""Monitoring: alarms for failed executions, dead letters, a stalled intake and Lambda errors."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

STALLED_INTAKE_SECONDS = 900


class Monitoring(Construct):
    """Every alarm fires on the first occurrence: in this pipeline one failure is one file."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        intake_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        functions: dict[str, lambda_.IFunction],
        alarm_topic_arn: str | None,
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
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=period, statistic="Sum"),
                f"The {name} function raised errors.",
            )
        if alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn)
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _alarm(self, name: str, metric: cw.Metric, description: str, threshold: float = 1) -> None:
        self.alarms.append(
            metric.create_alarm(
                self,
                name,
                alarm_description=f"filepipe: {description}",
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        )
