"""The main job: the local cloud, a handful of sample files, and where each one ended."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

from filepipe.claims import Claims
from filepipe.deployment import Deployment
from filepipe.local.cloud import LocalCloud
from filepipe.local.config import LocalConfig
from filepipe.operations import ExecutionView, Target, describe, express_executions
from filepipe.storage import MiB

DEMO_THRESHOLD = 1 * MiB
"""The demo lowers the large-file threshold so one sample takes the Batch path."""
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    path: str
    """The path it must take: ``lambda`` or ``batch``."""
    ends: str
    """Where it must end: ``archived`` or ``failed``."""
    tier: str = "express"
    """The machine that must run it: small files the Express one, large ones the Standard one."""


def samples(threshold: int = DEMO_THRESHOLD) -> list[Sample]:
    """Generated, deterministic samples: one of each case the pipeline handles."""
    cities = "city,country,population\nLagos,Nigeria,15388000\nLima,Peru,10883000\nOslo,Norway,709000\n"
    return [
        Sample("samples/cities.csv", cities.encode(), "lambda", "archived"),
        Sample("samples/sensor readings.csv", _large_csv(threshold + threshold // 2), "batch", "archived", "standard"),
        Sample("samples/broken.csv", b"id,name\n1,ann\n2,bob,unexpected\n", "lambda", "failed"),
        Sample(
            "samples/Q3 résumé + notes ✓.txt",
            "Quarterly notes: ünïcödé, spaces and a plus.\n".encode(),
            "lambda",
            "archived",
        ),
    ]


def _large_csv(size: int) -> bytes:
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sensor", "timestamp", "celsius", "ok"])
    row = 0
    while out.tell() < size:
        writer.writerow([f"s-{row % 17}", 1_764_158_400 + row, round(rng.gauss(21, 4), 3), rng.random() > 0.05])
        row += 1
    return out.getvalue().encode()


@dataclass
class Progress:
    sample: Sample
    uploaded_at: float
    view: ExecutionView | None = None
    state: str = "uploaded"

    @property
    def done(self) -> bool:
        return self.view is not None and self.view.status in TERMINAL

    @property
    def ended(self) -> str:
        if self.view is None or self.view.outcome is None:
            return "-"
        return "archived" if self.view.status == "SUCCEEDED" else "failed"

    @property
    def as_expected(self) -> bool:
        return (
            self.done
            and self.ended == self.sample.ends
            and self.view is not None
            and self.view.path == self.sample.path
            and self.view.tier == self.sample.tier
        )


def run_demo(
    console: Console, port: int = 0, timeout: float = 180, runner: str = "auto", image: str | None = None
) -> int:
    """Start the local cloud, upload the samples, follow them; 0 when each ended where expected."""
    deployment = Deployment(large_file_threshold_bytes=DEMO_THRESHOLD, small_file_workflow="express")
    config = LocalConfig(deployment=deployment, port=port, runner=runner, image=image)
    console.print("[bold]filepipe demo[/]: the whole pipeline on this machine, no AWS account")
    with LocalCloud(config) as cloud:
        console.print(f"  local cloud at [cyan]{cloud.endpoint}[/] (S3, SQS, Step Functions)")
        console.print(f"  Batch jobs run as: {cloud.batch.runner.description if cloud.batch else '?'}")
        console.print(f"  large-file threshold lowered to {DEMO_THRESHOLD // 1024} KiB for the demo")
        console.print(
            "  small files run on the Express machine (smallFileWorkflow=express), large ones on the Standard\n"
        )
        target = Target(
            s3=cloud.client("s3"),
            sfn=cloud.client("stepfunctions"),
            staging_bucket=config.staging_bucket,
            archive_bucket=config.archive_bucket,
            state_machine_arn=cloud.state_machine_arn,
            logs=cloud.client("logs"),
            express_log_group=cloud.express_log_group,
            claims=Claims(cloud.client("dynamodb"), cloud.naming.claims_table),
        )
        progress = [_upload(target, sample) for sample in samples()]
        deadline = time.monotonic() + timeout
        with Live(_table(progress, final=False), console=console, refresh_per_second=8) as live:
            while not all(p.done for p in progress) and time.monotonic() < deadline:
                _poll(target, progress)
                live.update(_table(progress, final=False))
                time.sleep(0.3)
            live.update(_table(progress, final=True))
        console.print()
        failures = [p for p in progress if not p.as_expected]
        if failures:
            console.print(f"[red]{len(failures)} file(s) did not end where expected[/]")
            return 1
        staging = target.s3.list_object_versions(Bucket=config.staging_bucket)
        if staging.get("Versions"):
            console.print("[red]staging still holds object versions[/]")
            return 1
        console.print("[green]every file ended where it should[/]; staging is empty.")
        return 0


def _upload(target: Target, sample: Sample) -> Progress:
    target.s3.put_object(Bucket=target.staging_bucket, Key=sample.key, Body=sample.body)
    return Progress(sample, time.monotonic())


def _poll(target: Target, progress: list[Progress]) -> None:
    by_key = {p.sample.key: p for p in progress}
    listed = target.sfn.list_executions(stateMachineArn=target.state_machine_arn)["executions"]
    for execution in listed:
        described = target.sfn.describe_execution(executionArn=execution["executionArn"])
        key = json.loads(described["input"]).get("key")
        entry = by_key.get(key)
        if entry is None or entry.done:
            continue
        if described["status"] in TERMINAL:
            entry.view = describe(target, execution["executionArn"])
            entry.state = entry.view.status.lower()
        else:
            entry.state = "running: " + _current_state(target, execution["executionArn"])
    for view in express_executions(target):
        entry = by_key.get(view.key)
        if entry is not None and not entry.done and view.status in TERMINAL:
            entry.view, entry.state = view, view.status.lower()


def _current_state(target: Target, arn: str) -> str:
    events = target.sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=20)["events"]
    for event in events:
        name = event.get("stateEnteredEventDetails", {}).get("name")
        if name:
            return str(name)
    return "starting"


def _table(progress: list[Progress], final: bool) -> Table:
    table = Table(title="where each file ended" if final else "processing", title_justify="left")
    columns: list[tuple[str, Callable[[Progress], str]]] = [
        ("file", lambda p: p.sample.key),
        ("size", lambda p: _size(len(p.sample.body))),
        ("tier", lambda p: p.view.tier if p.view else "-"),
        ("path", lambda p: p.view.path if p.view else "-"),
        ("status", lambda p: p.view.status if p.view else p.state),
        ("ended in", lambda p: (p.view.outcome or "-") if p.view else "-"),
        ("seconds", lambda p: f"{p.view.seconds:.1f}" if p.view and p.view.seconds is not None else "-"),
    ]
    if final:
        columns.append(
            (
                "expected",
                lambda p: "yes" if p.as_expected else f"no: {p.sample.tier}/{p.sample.path}/{p.sample.ends}",
            )
        )
    for name, _ in columns:
        table.add_column(name)
    for entry in progress:
        table.add_row(*(render(entry) for _, render in columns))
    return table


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} B"
