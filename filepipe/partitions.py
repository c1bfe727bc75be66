"""Which AWS partition a region is in, and what its ARNs and hosts look like there.

ARNs start ``arn:aws:`` only in the commercial partition (``arn:aws-cn:`` in China,
``arn:aws-us-gov:`` in GovCloud), and hosts end ``amazonaws.com`` there and in GovCloud but
``amazonaws.com.cn`` in China. The table is botocore's own (``partitions.json``, the data its
endpoint resolution uses), so a new partition arrives with a botocore upgrade, not an edit here.

Example::

    partition_of("cn-north-1").arn("s3", "", "", "staging/uploads/a.csv")   # arn:aws-cn:s3:::staging/...
    s3_object_url("staging", "eu-west-2", "uploads/a.csv")   # https://staging.s3.eu-west-2.amazonaws.com/...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

from botocore.loaders import create_loader

DEFAULT_PARTITION = "aws"
"""Where botocore places a region no partition's pattern matches."""


@dataclass(frozen=True)
class Partition:
    name: str
    """``aws``, ``aws-cn``, ``aws-us-gov``, ..."""
    dns_suffix: str
    """``amazonaws.com``, ``amazonaws.com.cn``, ..."""
    region_pattern: str

    def arn(self, service: str, region: str, account: str, resource: str) -> str:
        return f"arn:{self.name}:{service}:{region}:{account}:{resource}"

    def host(self, service: str, region: str) -> str:
        """A service's regional host: ``cognito-idp.eu-west-2.amazonaws.com``."""
        return f"{service}.{region}.{self.dns_suffix}"


@cache
def _table() -> tuple[tuple[Partition, frozenset[str]], ...]:
    """Each partition botocore knows, with the regions it lists (the commercial one first)."""
    data = create_loader().load_data("partitions")
    return tuple(
        (Partition(p["id"], p["outputs"]["dnsSuffix"], p["regionRegex"]), frozenset(p.get("regions", {})))
        for p in data["partitions"]
    )


def partitions() -> tuple[Partition, ...]:
    return tuple(partition for partition, _ in _table())


def partition_named(name: str) -> Partition | None:
    return next((p for p in partitions() if p.name == name), None)


def partition_of(region: str) -> Partition:
    """The partition ``region`` belongs to: by botocore's region lists, then its patterns; a region
    neither knows is placed in the commercial partition, as botocore places it."""
    for partition, regions in _table():
        if region in regions or re.match(partition.region_pattern, region):
            return partition
    return next(p for p in partitions() if p.name == DEFAULT_PARTITION)


@cache
def offers(service: str, partition: str) -> bool:
    """Whether AWS offers ``service`` (its endpoint prefix: ``cognito-idp``) anywhere in
    ``partition``, by botocore's endpoint list: Cognito user pools, for one, are not in aws-cn."""
    data = create_loader().load_data("endpoints")
    entry = next((p for p in data["partitions"] if p["partition"] == partition), None)
    return entry is not None and bool(entry["services"].get(service, {}).get("endpoints"))


def s3_object_url(bucket: str, region: str, key: str) -> str:
    """An object's URL on its bucket's regional host: virtual-hosted where the bucket's name can be
    a TLS host name, path-style (still the regional host) where a dot would break the certificate.
    The global host (``<bucket>.s3.amazonaws.com``) answers a new bucket outside us-east-1 with a
    307 redirect for up to a day, which a browser's CORS preflight refuses to follow."""
    path = quote(key, safe="/~")
    host = partition_of(region).host("s3", region)
    if "." in bucket:
        return f"https://{host}/{bucket}/{path}"
    return f"https://{bucket}.{host}/{path}"
