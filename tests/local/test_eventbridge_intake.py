"""An existing staging bucket's events come through EventBridge (the stack's ``stagingBucketName``):
the same trigger, the same pipeline."""

from __future__ import annotations

import pytest

from filepipe.local import LocalCloud
from filepipe.operations import Target
from tests.local.helpers import settle
from tests.reliability.helpers import assert_conserved, upload

pytestmark = pytest.mark.local


def test_uploads_announced_through_eventbridge_are_processed(cloud: LocalCloud, target: Target) -> None:
    cloud.resources.notification(intake="eventbridge")
    config = target.s3.get_bucket_notification_configuration(Bucket=target.staging_bucket)
    assert not config.get("QueueConfigurations"), "no direct S3-to-SQS notification is left"
    files = [upload(target, "eb/report q1+final.csv", b"a,b\n1,2\n"), upload(target, "eb/naïve.txt", b"hi")]
    views = settle(target, 2)
    assert sorted(v.key for v in views) == ["eb/naïve.txt", "eb/report q1+final.csv"]
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert_conserved(target, files)
