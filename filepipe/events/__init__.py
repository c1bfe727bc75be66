"""What arrives: S3 notifications in their three envelopes, parsed into :class:`ObjectRef`.

Example::

    from filepipe.events import parse_notification
    for ref in parse_notification(json.loads(sqs_body)).refs:
        print(ref.key)  # decoded: "reports/q1 summary+final.csv"
"""

from filepipe.events._names import MAX_EXECUTION_NAME, execution_name, retry_name
from filepipe.events._parse import Notification, SqsMessage, load_body, parse_notification, parse_sqs_event
from filepipe.events._ref import ObjectRef, VersionOrder, sequencer_is_newer

__all__ = [
    "MAX_EXECUTION_NAME",
    "Notification",
    "ObjectRef",
    "SqsMessage",
    "VersionOrder",
    "execution_name",
    "load_body",
    "parse_notification",
    "parse_sqs_event",
    "retry_name",
    "sequencer_is_newer",
]
