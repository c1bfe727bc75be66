"""Each speed patch of the local cloud against moto's own code, side by side.

    .venv/bin/python -m bench.adapter_speed                    # every patch
    .venv/bin/python -m bench.adapter_speed --only execution-index --executions 5000

The speed patches (``filepipe/local/adapter/speed.py``) change no answer; each earns its place by
what it saves on the workload that made it necessary:
- files: small CSVs through the whole local pipeline (bench/small_files.py's run), for the
  patches that keep what moto recomputes per request;
- ranged: one large object read in 8 MiB ranges, as the transformer and worker read;
- lookups: starting then describing N executions of one machine, as a backfill's children are.

Each round runs the workload four times, patched, moto's, moto's, patched (so that drift in the
machine's speed falls on both), and prints both rates and their ratio. Everything else stays
patched throughout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from bench.small_files import pipeline
from filepipe.local import LocalCloud, LocalConfig, adapter
from filepipe.local.adapter.speed import PATCHES, SpeedPatch
from filepipe.storage import MiB

WORKLOAD_OF = {
    "ranged-get": "ranged",
    "execution-index": "lookups",
}
"""The workload that measures a patch; every other patch is measured on ``files``."""


def files_rate(cloud: LocalCloud, args: argparse.Namespace) -> float:
    cloud.reset()
    rate, _ = pipeline(cloud, args.files, args.concurrency)
    return rate


def ranged_rate(cloud: LocalCloud, args: argparse.Namespace) -> float:
    """MiB/s reading one object of ``--object-mib`` in 8 MiB ranges."""
    s3 = cloud.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="bench-ranged")
    size = args.object_mib * MiB
    s3.put_object(Bucket="bench-ranged", Key="large.bin", Body=os.urandom(MiB) * args.object_mib)
    started = time.perf_counter()
    for start in range(0, size, 8 * MiB):
        end = min(start + 8 * MiB, size) - 1
        body = s3.get_object(Bucket="bench-ranged", Key="large.bin", Range=f"bytes={start}-{end}")["Body"].read()
        assert len(body) == end - start + 1
    return args.object_mib / (time.perf_counter() - started)


@contextlib.contextmanager
def _executions_listed_not_run() -> Iterator[None]:
    """StartExecution lists each execution without running it: lookups alone are timed, not
    thousands of worker threads."""
    from moto.stepfunctions.parser.backend.execution import Execution

    start = Execution.start
    Execution.start = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        Execution.start = start  # type: ignore[method-assign]


def lookups_rate(_cloud: LocalCloud, args: argparse.Namespace) -> float:
    """Starts then describes per second, over ``--executions`` executions of one machine."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = backend.create_state_machine(name="m", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")
    started = time.perf_counter()
    with _executions_listed_not_run():
        arns = [backend.start_execution(machine.arn, f"e{i}", "{}").execution_arn for i in range(args.executions)]
    for arn in arns:
        backend.describe_execution(arn)
    return 2 * args.executions / (time.perf_counter() - started)


WORKLOADS: dict[str, tuple[Callable[[LocalCloud, argparse.Namespace], float], str]] = {
    "files": (files_rate, "files/s"),
    "ranged": (ranged_rate, "MiB/s"),
    "lookups": (lookups_rate, "lookups/s"),
}


def measure(patch: SpeedPatch, cloud: LocalCloud, args: argparse.Namespace) -> float:
    """One patch over ``--rounds`` rounds; the median of the rounds' ratios."""
    run, unit = WORKLOADS[WORKLOAD_OF.get(patch.name, "files")]
    ratios = []
    for round_number in range(1, args.rounds + 1):
        rates: dict[str, list[float]] = {"patched": [], "moto": []}
        for side in ("patched", "moto", "moto", "patched"):
            if side == "moto":
                patch.revert()
            try:
                rates[side].append(run(cloud, args))
            finally:
                patch.apply()
        patched, moto = statistics.mean(rates["patched"]), statistics.mean(rates["moto"])
        ratios.append(patched / moto)
        print(
            f"  {patch.name:<24} {round_number:>5}   {patched:>12.1f}   {moto:>12.1f}  {unit:<10}  {ratios[-1]:>6.2f}",
            flush=True,
        )
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[patch.name for patch in PATCHES], action="append", help="repeatable")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--files", type=int, default=200, help="the files workload's size")
    parser.add_argument("--concurrency", type=int, default=8, help="the files workload's client threads")
    parser.add_argument("--object-mib", type=int, default=256, help="the ranged workload's object")
    parser.add_argument("--executions", type=int, default=3000, help="the lookups workload's size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    chosen = [patch for patch in PATCHES if not args.only or patch.name in args.only]
    print(f"speed patches against moto's code, {args.rounds} round(s), {datetime.now(UTC):%Y-%m-%d}")
    print("  patch                    round        patched           moto  unit         ratio")
    with LocalCloud(LocalConfig(port=0, runner="process")) as cloud:
        adapter.apply()
        summary = {patch.name: measure(patch, cloud, args) for patch in chosen}
    print("  median ratio (patched over moto's; above 1 is faster):")
    for name, ratio in summary.items():
        print(f"    {name:<24} {ratio:.2f}")


if __name__ == "__main__":
    main()
