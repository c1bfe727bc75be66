"""Worker throughput and peak memory on generated CSVs of growing size.

    make bench                      # 64 MiB, 256 MiB, 1 GiB
    .venv/bin/python bench/worker_memory.py --sizes 64,256,1024,4096

Each CSV is streamed into a local S3 endpoint (moto's server on 127.0.0.1, with the local cloud's
adapter), then processed by
the Batch worker entrypoint in a child process, and, side by side, simply read back by a child
doing ranged GETs of the same bytes (the floor: no parsing, no writing). Printed per size:
worker MB/s, read-only MB/s, their ratio, and each child's peak RSS. The worker's peak RSS
should not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from filepipe.local import _moto_adapter

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
ROW_TEMPLATE = "{i},{name},{score:.4f},{flag},2026-11-{day:02d}T12:00:00Z\n"


def generate_csv(s3: object, bucket: str, key: str, size: int) -> dict[str, object]:
    """Stream a CSV of about ``size`` bytes into S3, a part at a time."""
    from filepipe.storage import MultipartWriter

    rng = random.Random(size)
    names = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta"]
    written, i, block = 0, 0, []
    with MultipartWriter(s3, bucket, key, part_size=16 * MiB) as sink:  # type: ignore[arg-type]
        sink.write(b"id,name,score,flag,ts\n")
        while written < size:
            block.append(
                ROW_TEMPLATE.format(
                    i=i, name=rng.choice(names), score=rng.random() * 1000, flag=i % 2 == 0, day=i % 28 + 1
                )
            )
            i += 1
            if len(block) == 50_000:
                data = "".join(block).encode()
                sink.write(data)
                written += len(data)
                block = []
        if block:
            sink.write("".join(block).encode())
    head = s3.head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    return {"bucket": bucket, "key": key, "versionId": head.get("VersionId"), "size": head["ContentLength"]}


def child(module: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_measure.py"), module, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    figures = json.loads(result.stderr.strip().splitlines()[-1])
    if figures["exit"] != 0:
        raise SystemExit(f"{module} failed:\n{result.stdout}\n{result.stderr}")
    return dict(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024", help="CSV sizes in MiB")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _moto_adapter.apply()  # the local cloud's S3, whose ranged GETs read only their range
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = os.environ | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGING_BUCKET": "bench-staging",
        "ARCHIVE_BUCKET": "bench-archive",
        "PYTHONPATH": str(ROOT),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    for bucket in ("bench-staging", "bench-archive"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    print(f"{'size':>9} {'worker MB/s':>12} {'read MB/s':>10} {'ratio':>6} {'worker RSS':>11} {'read RSS':>9}")
    try:
        for mib in (int(s) for s in args.sizes.split(",")):
            ref = generate_csv(s3, "bench-staging", f"bench/{mib}MiB.csv", mib * MiB)
            size_mb = int(ref["size"]) / 1e6  # type: ignore[call-overload]
            work = child("batch_image.worker", ["--object", json.dumps(ref)], env)
            floor = child("bench.read_only", ["--object", json.dumps(ref)], env)
            print(
                f"{mib:>6}MiB {size_mb / work['seconds']:>12.1f} {size_mb / floor['seconds']:>10.1f} "
                f"{floor['seconds'] / work['seconds']:>6.2f} {work['peak_rss_mib']:>8.0f}MiB "
                f"{floor['peak_rss_mib']:>6.0f}MiB",
                flush=True,
            )
            s3.delete_object(Bucket="bench-staging", Key=str(ref["key"]), VersionId=str(ref["versionId"]))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
