"""``filepipe up`` and ``filepipe demo``: the local cloud, in the foreground or on sample files."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from filepipe.local.config import ARCHIVE_BUCKET, STAGING_BUCKET
from filepipe.storage import MiB

if TYPE_CHECKING:
    pass

from filepipe.cli._app import DEFAULTS, console, main


def host_warning(host: str) -> str | None:
    """What to tell someone who makes the local cloud listen beyond this machine."""
    from filepipe.local.guard import is_loopback

    if is_loopback(host):
        return None
    return (
        f"--host {host} makes the local cloud reachable from other machines. Anyone who can reach it "
        "and knows its key (test/test, printed below) may act as the administrator of this local "
        "account: read and write its buckets and run its workflow. Use it on a trusted network only."
    )


RUNNER = click.option(
    "--runner",
    type=click.Choice(["auto", "container", "process"]),
    default="auto",
    show_default=True,
    help="How Batch jobs run: in the worker image (podman/docker; only if built from these sources), or a subprocess.",
)
IMAGE = click.option(
    "--image",
    default=None,
    show_default="localhost/filepipe-worker:<digest of these sources>, as make image tags it",
    help="The worker image for Batch jobs.",
)


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4566, show_default=True, type=int)
@click.option("--staging-bucket", default=STAGING_BUCKET, show_default=True)
@click.option("--archive-bucket", default=ARCHIVE_BUCKET, show_default=True)
@click.option(
    "--large-file-threshold",
    default=f"{DEFAULTS.large_file_threshold_bytes // MiB}MiB",
    show_default=True,
    help="Above this, files go to Batch (the stack's largeFileThresholdBytes).",
)
@click.option(
    "--multipart-above",
    default=f"{DEFAULTS.upload_presign_max_bytes // MiB}MiB",
    show_default=True,
    help="Upload API: above this, multipart credentials (the stack's uploadPresignMaxBytes).",
)
@click.option(
    "--small-file-workflow",
    type=click.Choice(["standard", "express"]),
    default=DEFAULTS.small_file_workflow,
    show_default=True,
    help="The machine small files run on (the stack's smallFileWorkflow).",
)
@RUNNER
@IMAGE
@click.option(
    "--function-concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Warm environments (one process each) per function.",
)
@click.option(
    "--kms",
    is_flag=True,
    help="Both buckets encrypt with a KMS key, and every role is granted it (the stack's kmsKeyArn).",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="URL",
    help="A browser origin allowed to call it (repeatable), besides its own and http://localhost:4566.",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep buckets, queues, executions, users and the claims table in DIR across restarts (default: in memory).",
)
@click.option(
    "--no-reload",
    "reload",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Keep running the code it started with (by default an edit to the sources is run by the next invocation).",
)
def up(
    host: str,
    port: int,
    staging_bucket: str,
    archive_bucket: str,
    large_file_threshold: str,
    multipart_above: str,
    small_file_workflow: str,
    runner: str,
    image: str | None,
    function_concurrency: int,
    kms: bool,
    allow_origins: tuple[str, ...],
    state_dir: Path | None,
    reload: bool,
) -> None:
    """Run the local cloud in the foreground until Ctrl-C."""
    from filepipe.local import LocalCloud, LocalConfig
    from filepipe.local.config import CREDENTIALS, LOCAL_USER, REGION, LocalNaming
    from filepipe.local.state import StateRefused

    deployment = replace(
        DEFAULTS,
        large_file_threshold_bytes=_size(large_file_threshold),
        upload_presign_max_bytes=_size(multipart_above),
        small_file_workflow=small_file_workflow,
        cors_allowed_origins=(*DEFAULTS.cors_allowed_origins, *allow_origins),
    )
    config = LocalConfig(
        deployment=deployment,
        host=host,
        port=port,
        naming=LocalNaming(staging_bucket=staging_bucket, archive_bucket=archive_bucket),
        runner=runner,
        image=image,
        function_concurrency=function_concurrency,
        kms=kms,
        reload=reload,
        state_dir=state_dir,
    )
    warning = host_warning(host)
    if warning:
        console.print(f"[bold red]warning:[/] {warning}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cloud = LocalCloud(config, notify=lambda notice: console.print(notice, markup=False, highlight=False)).start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; try --port") from exc
    except StateRefused as exc:
        raise click.ClickException(str(exc)) from exc
    endpoint = cloud.endpoint
    console.print(f"[bold green]filepipe local cloud[/] at [cyan]{endpoint}[/]")
    console.print(f"  staging bucket   {staging_bucket}  (upload here)")
    console.print(f"  archive bucket   {archive_bucket}")
    if cloud.names.kms_key:
        console.print(f"  KMS key          {cloud.names.kms_key}  (SSE-KMS on both buckets)")
    console.print(f"  state machine    {cloud.state_machine_arn}")
    console.print(
        f"  small files run  on the {small_file_workflow.title()} machine"
        + (f" (its history: log group {cloud.express_log_group})" if small_file_workflow == "express" else "")
    )
    console.print(f"  functions run    in local execution environments, up to {function_concurrency} each")
    console.print(f"  Batch jobs run   {cloud.batch.runner.description if cloud.batch else '?'}")
    console.print("  permissions      each function, job and the state machine act with its deployed role")
    if state_dir is None:
        console.print("  state            in memory: stopping forgets it (--state DIR keeps it)")
    else:
        found = "restored from" if cloud.restored else "new; saved when it stops, to"
        console.print(f"  state            {found} {state_dir.resolve()}", markup=False, highlight=False)
    if reload:
        console.print("  code reload      on: after an edit, new invocations and Batch jobs run it (--no-reload: off)")
    else:
        console.print("  code reload      off: an edit runs after a restart")
    console.print(
        f"  your credentials AWS_ACCESS_KEY_ID={CREDENTIALS['AWS_ACCESS_KEY_ID']} "
        f"AWS_SECRET_ACCESS_KEY={CREDENTIALS['AWS_SECRET_ACCESS_KEY']} (the administrator), region {REGION}"
    )
    console.print(f"  upload page      {endpoint}/ui/  (sign in as {LOCAL_USER[0]}, password {LOCAL_USER[1]})")
    console.print("\nTry:")
    console.print(f"  aws --endpoint-url {endpoint} s3 cp FILE s3://{staging_bucket}/")
    console.print(
        f"  aws --endpoint-url {endpoint} stepfunctions list-executions --state-machine-arn {cloud.state_machine_arn}"
    )
    console.print(f"  filepipe status --endpoint {endpoint}")
    console.print(f"  filepipe upload --endpoint {endpoint} --wait FILE...   (or the page: {endpoint}/ui/)")
    console.print("Requests signed with other keys are refused.   Ctrl-C stops.")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        cloud.stop()
        if state_dir is not None:
            console.print(f"state saved to {state_dir.resolve()}", markup=False, highlight=False)


@main.command()
@click.option("--port", default=0, show_default="a free port", type=int)
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for every file.")
@RUNNER
@IMAGE
def demo(port: int, timeout: float, runner: str, image: str | None) -> None:
    """Run the pipeline locally on sample files and show where each one ended."""
    from filepipe.local.demo import run_demo

    sys.exit(run_demo(console, port=port, timeout=timeout, runner=runner, image=image))
