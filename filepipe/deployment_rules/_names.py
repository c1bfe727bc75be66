"""Rules for names AWS gives things: bucket names, ARNs (topics, keys), VPC IDs; and the intake
topic's policy statements, which the stack sets and a refusal quotes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from filepipe.partitions import partition_named, partitions

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_ARN = re.compile(r"arn:([a-z0-9-]+):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|):(.+)")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_KEY_ID = re.compile(r"key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})")
_VPC_ID = re.compile(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})")


def bucket_name(value: str) -> str | None:
    """S3's naming rules for general purpose buckets."""
    allowed = (
        "an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending "
        "with a letter or digit, no '..', not an IP address, no reserved prefix (xn--, sthree-, "
        "amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
    )
    if not _BUCKET.fullmatch(value) or ".." in value or _is_ip(value):
        return allowed
    if value.startswith(_BUCKET_RESERVED_PREFIXES) or value.endswith(_BUCKET_RESERVED_SUFFIXES):
        return allowed
    return None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, value: str) -> Arn | None:
        found = _ARN.fullmatch(value)
        return cls(*found.groups()) if found else None


def _arn_problem(value: str, service: str, shape: str) -> tuple[Arn | None, str | None]:
    """The ARN, or what is wrong with it: the partition, the service, a region of that partition."""
    allowed = f"an ARN arn:<partition>:{service}:<region>:<account>:{shape}"
    arn = Arn.parse(value)
    if arn is None or arn.service != service or not arn.account:
        return None, allowed
    partition = partition_named(arn.partition)
    if partition is None:
        return None, f"{allowed}, where the partition is one of " + ", ".join(p.name for p in partitions())
    if not re.match(partition.region_pattern, arn.region):
        return None, f"{allowed}, where the region is one of the {arn.partition} partition's"
    return arn, None


def topic_arn(value: str) -> str | None:
    arn, problem = _arn_problem(value, "sns", "<topic name>")
    if arn is not None and not _TOPIC_NAME.fullmatch(arn.resource):
        return "a standard SNS topic's ARN: S3 cannot notify a FIFO topic, and a topic name is letters, digits, - and _"
    return problem


def kms_key_arn(value: str) -> str | None:
    arn, problem = _arn_problem(value, "kms", "key/<key id>")
    if arn is not None and not _KEY_ID.fullmatch(arn.resource):
        return "a KMS key's ARN (key/<key id>): IAM grants name keys, and an alias ARN in a grant allows nothing"
    return problem


def vpc_id(value: str) -> str | None:
    return None if _VPC_ID.fullmatch(value) else "a VPC ID: vpc- and 8 or 17 hexadecimal digits"


def intake_topic_statements(
    topic: str, account: str, partition: str, bucket_arn: str | None = None
) -> list[dict[str, Any]]:
    """What the intake topic's policy must allow: S3 publishing the staging bucket's events (the
    bucket of ``account``; when its ARN is not known yet, any of that account's buckets), and
    ``account`` subscribing the intake queue (needed only when the topic is another account's)."""
    publish: dict[str, Any] = {
        "Sid": "FilepipeStagingEvents",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "SNS:Publish",
        "Resource": topic,
        "Condition": {
            "ArnLike": {"aws:SourceArn": bucket_arn or f"arn:{partition}:s3:::*"},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }
    subscribe = {
        "Sid": "FilepipeIntakeSubscription",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": "SNS:Subscribe",
        "Resource": topic,
    }
    return [publish, subscribe]
