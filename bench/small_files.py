"""Small-file throughput and latency through the local cloud, beside a floor baseline.

    .venv/bin/python -m bench.small_files --files 300 --rounds 3

Both run in the same process against the same endpoint, one after the other, in each round:
- pipeline: upload N small CSVs to staging; each goes S3 event -> SQS -> trigger -> Step Functions
  -> transformer Lambda -> archive Lambda. Measured: files per second (first upload to last
  execution end) and upload-to-archived latency, p50 and p95 (upload time to the execution's end).
- floor: the same S3 operations per file the pipeline's handlers make (PUT the upload; HEAD the
  version and the output key, ranged GET, PUT the output; HEAD the version and the archive key,
  COPY, DELETE the version), issued directly with the same concurrency: no queue, no workflow,
  no Lambda.
Printed: both rates and their ratio for each round, and the median ratio (the target: the
pipeline at least half the floor). The local cloud is emptied before each round; the functions'
execution environments started in round 1 stay warm for the next.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from botocore.exceptions import ClientError

from filepipe.local import LocalCloud, LocalConfig
from filepipe.storage import MiB

BODY = b"id,name,value\n" + b"".join(b"%d,name %d,%d\n" % (i, i, i * 3) for i in range(20))


def pipeline(cloud: LocalCloud, files: int, concurrency: int) -> tuple[float, list[float]]:
    s3, sfn = cloud.client("s3", max_pool_connections=64), cloud.client("stepfunctions")
    uploaded: dict[str, float] = {}

    def put(i: int) -> None:
        key = f"bench/small-{i}.csv"
        uploaded[key] = time.time()
        s3.put_object(Bucket=cloud.config.staging_bucket, Key=key, Body=BODY)

    started = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, range(files)))
    done: list[dict] = []
    while len(done) < files:
        time.sleep(1)
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=cloud.state_machine_arn)
        done = [e for page in pages for e in page["executions"] if e["status"] != "RUNNING"]
    failed = [e for e in done if e["status"] != "SUCCEEDED"]
    if failed:
        raise SystemExit(f"{len(failed)} executions did not succeed: {failed[:3]}")
    ended = max(e["stopDate"].timestamp() for e in done)
    latencies = []
    for execution in done:
        # The execution name starts with the key (unsafe characters as _): bench_small-7_csv-<digest>.
        index = int(re.search(r"small-(\d+)_csv", execution["name"]).group(1))  # type: ignore[union-attr]
        latencies.append(execution["stopDate"].timestamp() - uploaded[f"bench/small-{index}.csv"])
    return files / (ended - started), latencies


def floor(cloud: LocalCloud, files: int, concurrency: int) -> float:
    s3 = cloud.client("s3", max_pool_connections=64)
    for bucket in ("floor-staging", "floor-archive"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def absent(bucket: str, key: str) -> None:
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return

    def one(i: int) -> None:
        key = f"bench/small-{i}.csv"
        version = s3.put_object(Bucket="floor-staging", Key=key, Body=BODY)["VersionId"]
        # the transformer: HEAD the version and the output key, read the version, write the output
        s3.head_object(Bucket="floor-staging", Key=key, VersionId=version)
        absent("floor-archive", f"outputs/{key}")
        body = s3.get_object(Bucket="floor-staging", Key=key, VersionId=version, Range=f"bytes=0-{8 * MiB - 1}")
        s3.put_object(Bucket="floor-archive", Key=f"outputs/{key}", Body=body["Body"].read())
        # the archiver: HEAD the version and the archive key, copy, delete the version
        s3.head_object(Bucket="floor-staging", Key=key, VersionId=version)
        absent("floor-archive", f"originals/{key}")
        s3.copy_object(
            Bucket="floor-archive",
            Key=f"originals/{key}",
            CopySource={"Bucket": "floor-staging", "Key": key, "VersionId": version},
        )
        s3.delete_object(Bucket="floor-staging", Key=key, VersionId=version)

    started = time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(files)))
    return files / (time.time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="floor-then-pipeline pairs; the ratio is their median")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads, for both runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    print(f"small-file benchmark, {args.files} files, {args.rounds} rounds, {datetime.now(UTC):%Y-%m-%d}")
    print("  round   floor files/s   pipeline files/s   ratio   upload-to-archived p50   p95")
    ratios = []
    with LocalCloud(LocalConfig(port=0, runner="process")) as cloud:
        for round_number in range(1, args.rounds + 1):
            cloud.reset()
            floor_rate = floor(cloud, args.files, args.concurrency)
            rate, latencies = pipeline(cloud, args.files, args.concurrency)
            quantiles = statistics.quantiles(latencies, n=100)
            ratios.append(rate / floor_rate)
            print(
                f"  {round_number:>5}   {floor_rate:>13.1f}   {rate:>16.1f}   {ratios[-1]:>5.2f}"
                f"   {quantiles[49]:>20.2f} s   {quantiles[94]:.2f} s"
            )
    print(f"  median ratio {statistics.median(ratios):.2f} (target: at least 0.50)")
    print("  round 1 includes starting the functions' execution environments; later rounds reuse them")


if __name__ == "__main__":
    main()
