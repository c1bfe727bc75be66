"""What AWS accepts for each deploy-time setting, checked when the stack is synthesized.

A value CloudFormation or a service would refuse (or accept, and then fail on at run time) is
refused here, before anything is deployed, with one :class:`InvalidSetting` that names the
context key, the value and what is allowed. :data:`RULES` holds one rule per context key;
:func:`check_together` the rules that join settings; :func:`check_target` those that need the
account and region the stack goes to (``cdk deploy`` always knows them; an offline
``cdk synth`` may not).

Example::

    check(RULES, {"batchVcpus": 3.0})   # InvalidSetting: batchVcpus=3.0 ... one of 0.25, 0.5, 1, 2, 4, 8, 16
"""

from filepipe.deployment_rules._names import Arn, intake_topic_statements
from filepipe.deployment_rules._table import RULES, check_target, check_together
from filepipe.deployment_rules._values import (
    FARGATE_MEMORY_MIB,
    LOG_RETENTION_DAYS,
    STATES_TIMEOUT_MAX,
    InvalidSetting,
    check,
    coerce,
    prefix,
    stack_name_problem,
)

__all__ = [
    "FARGATE_MEMORY_MIB",
    "LOG_RETENTION_DAYS",
    "RULES",
    "STATES_TIMEOUT_MAX",
    "Arn",
    "InvalidSetting",
    "check",
    "check_target",
    "check_together",
    "coerce",
    "intake_topic_statements",
    "prefix",
    "stack_name_problem",
]
