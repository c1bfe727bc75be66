"""Where did each uploaded version end? The conservation check every reliability test ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from filepipe.operations import Target


@dataclass(frozen=True)
class Uploaded:
    key: str
    version_id: str
    body: bytes


def upload(target: Target, key: str, body: bytes) -> Uploaded:
    response = target.s3.put_object(Bucket=target.staging_bucket, Key=key, Body=body)
    return Uploaded(key, response["VersionId"], body)


def places(target: Target, item: Uploaded) -> list[str]:
    """Every place in the archive holding exactly this version's bytes (by source-version metadata)."""
    layout = target.layout
    found = []
    candidates = [
        layout.original(item.key),
        layout.superseded_original(item.key, item.version_id),
        layout.failed_copy(item.key),
    ]
    for key in candidates:
        for version in _versions(target, key):
            head = target.s3.head_object(Bucket=target.archive_bucket, Key=key, VersionId=version["VersionId"])
            if not version["IsLatest"] and key != layout.failed_copy(item.key):
                continue
            if head["Metadata"].get("filepipe-source-version") == item.version_id:
                body = target.s3.get_object(Bucket=target.archive_bucket, Key=key, VersionId=version["VersionId"])
                assert body["Body"].read() == item.body, f"{key} holds other bytes than {item.key}@{item.version_id}"
                found.append(key)
    return found


def _versions(target: Target, key: str) -> list[dict[str, Any]]:
    try:
        listing = target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix=key)
    except ClientError:
        return []
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def assert_conserved(target: Target, uploaded: list[Uploaded]) -> None:
    """Each version in exactly one place, staging empty, and no output key written twice for one
    version (a duplicate processing would add a second version of the same output key)."""
    misplaced = {f"{u.key}@{u.version_id}": places(target, u) for u in uploaded}
    wrong = {k: v for k, v in misplaced.items() if len(v) != 1}
    assert not wrong, f"versions not in exactly one place: {wrong}"
    staging = target.s3.list_object_versions(Bucket=target.staging_bucket)
    assert not staging.get("Versions") and not staging.get("DeleteMarkers"), "staging is empty"
    written = []
    for prefix in ("outputs/", "superseded/"):
        listing = target.s3.list_object_versions(Bucket=target.archive_bucket, Prefix=prefix).get("Versions", [])
        for version in listing:
            if version["Key"].endswith("/original"):
                continue
            head = target.s3.head_object(
                Bucket=target.archive_bucket, Key=version["Key"], VersionId=version["VersionId"]
            )
            written.append((version["Key"], head["Metadata"].get("filepipe-source-version")))
    twice = sorted({w for w in written if written.count(w) > 1})
    assert not twice, f"outputs written twice for one version: {twice}"


def archived_version(target: Target, key: str) -> str | None:
    """The source version ``originals/<key>`` holds now, if any."""
    try:
        head = target.s3.head_object(Bucket=target.archive_bucket, Key=target.layout.original(key))
    except ClientError:
        return None
    return str(head["Metadata"].get("filepipe-source-version"))
