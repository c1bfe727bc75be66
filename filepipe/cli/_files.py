"""Watching and retrying files, uploading them, and the listing machines (backfill, reprocess)."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from rich.table import Column, Table

from filepipe import backfill as backfills
from filepipe import map_runs, operations, retries

if TYPE_CHECKING:
    from filepipe.uploads.client import UploadClient
from filepipe.cli._app import AS_JSON, NO_WAIT, call, console, main
from filepipe.cli._target import DEFAULT_ENDPOINT, resolve, target_options
from filepipe.map_results import LABELS, OUTCOMES, MapCounts, map_counts


@main.command()
@target_options
@click.option(
    "--status", "status_filter", type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
)
@click.option("--limit", default=25, show_default=True)
@AS_JSON
def status(
    endpoint: str, stack: str | None, region: str | None, status_filter: str | None, limit: int, as_json: bool
) -> None:
    """Executions of both machines, newest first: the file, the tier and path it took, where it
    ended and why it failed (Express executions of the last 24 hours, from their claims, error
    records and log group)."""
    target = resolve(endpoint, stack, region)
    views = call(lambda: operations.executions(target, status_filter, limit))
    fixed = call(lambda: operations.resolved(target, views))
    if as_json:
        click.echo(json.dumps([v.to_json() | {"resolved": v.arn in fixed} for v in views], indent=2))
        return
    # Nothing is cut short, piped or not: long values fold onto more lines. `retry` takes the
    # execution's name, so that column never folds.
    longest = max((len(view.name) for view in views), default=10)
    table = Table(Column("execution", no_wrap=True, min_width=longest, overflow="ignore"))
    for heading in ("file", "tier", "path", "status", "ended in", "seconds", "reason"):
        table.add_column(heading, overflow="fold")
    for view in views:
        state = view.status + (f" (redriven {view.redrives}x)" if view.redrives else "")
        table.add_row(
            view.name,
            view.key,
            view.tier,
            view.path,
            f"{state}, resolved" if view.arn in fixed else state,
            view.outcome or "-",
            f"{view.seconds:.1f}" if view.seconds is not None else "-",
            f"{view.error}: {view.reason}" if view.error and view.reason else view.error or "",
        )
    console.print(table if views else "no executions yet")


@main.command(name="ls")
@target_options
@AS_JSON
def list_files(endpoint: str, stack: str | None, region: str | None, as_json: bool) -> None:
    """What is in staging, and archived, output, failed in the archive."""
    target = resolve(endpoint, stack, region)
    areas = call(lambda: operations.listing(target))
    if as_json:
        click.echo(json.dumps(areas, indent=2, ensure_ascii=False))
        return
    for area, keys in areas.items():
        console.print(f"[bold]{area}[/] ({len(keys)})")
        for key in keys:
            console.print(f"  {key}", markup=False, highlight=False)


@main.command()
@target_options
@click.option("--prefix", default="", help="Only objects under this prefix of staging (default: all).")
@click.option(
    "--older-than",
    "older_than_minutes",
    default=0,
    type=click.IntRange(0),
    help="Only objects at least this many minutes old (the sweep uses the stack's sweepOlderThanMinutes).",
)
@click.option(
    "--manifest",
    type=click.File("r", encoding="utf-8"),
    help="Only these keys of staging: a file with one key per line ('-' reads them from stdin).",
)
@click.option(
    "--inventory",
    metavar="S3URL",
    help="Only the staging keys of an S3 Inventory report (CSV): s3://BUCKET/.../manifest.json.",
)
@NO_WAIT
@AS_JSON
def backfill(
    endpoint: str,
    stack: str | None,
    region: str | None,
    prefix: str,
    older_than_minutes: int,
    manifest: TextIO | None,
    inventory: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Process files already in staging that no event started (made before the stack, or lost):
    a Distributed Map over the listing (or over a manifest of keys) starts each as its upload
    would have. Already started files start nothing new."""
    sources = [manifest is not None, inventory is not None, bool(prefix or older_than_minutes)]
    if sum(sources) > 1:
        raise click.UsageError("choose one source: --prefix/--older-than (a listing), --manifest or --inventory")
    target = resolve(endpoint, stack, region)
    keys: Iterable[str] | None = None
    if manifest is not None:
        keys = backfills.lines(manifest)
    elif inventory is not None:
        keys = backfills.inventory_keys(target.s3, inventory, target.staging_bucket)
    with console.status("writing the manifest…" if keys is not None else "starting…"):
        arn = call(lambda: map_runs.start_backfill(target, prefix, older_than_minutes * 60, keys=keys))
    if not as_json:
        console.print(f"backfill started: {arn}")
    if not no_wait:
        _follow_map_run(target, arn, "backfill", as_json)


@main.command()
@target_options
@click.argument("transform")
@click.option("--prefix", default="", help="Only outputs of originals under this prefix (default: all).")
@click.option(
    "--current-version",
    default=None,
    help="The version deployed, if not this code's: outputs of any other version are reprocessed.",
)
@NO_WAIT
@AS_JSON
def reprocess(
    endpoint: str,
    stack: str | None,
    region: str | None,
    transform: str,
    prefix: str,
    current_version: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Run TRANSFORM again on archived originals whose outputs an older version of it made: a
    Distributed Map over the archive's outputs sends each such original back into staging as a new
    version, and the older original and output are kept under superseded/."""
    target = resolve(endpoint, stack, region)
    arn = call(lambda: map_runs.start_reprocess(target, transform, current_version, prefix))
    console.print(f"reprocess started: {arn}")
    if not no_wait:
        _follow_map_run(target, arn, "reprocess", as_json)


def _follow_map_run(target: operations.Target, arn: str, machine: str, as_json: bool) -> None:
    """Show a listing machine's Map Run progress until it ends, then what each listed key came
    to (from the children's own reports); exit 1 unless it succeeded."""
    with console.status("listing…") as shown:
        while not (progress := call(lambda: map_runs.map_progress(target, arn))).done:
            items = progress.items
            shown.update(
                f"listed {items.get('total', 0)}, done {items.get('succeeded', 0)}, "
                f"failed {items.get('failed', 0)}, running {items.get('running', 0)}"
            )
            time.sleep(1)
    counts = call(lambda: map_counts(target.s3, target.sfn, arn))
    if as_json:
        report = {"execution": arn, "status": progress.status, "error": progress.error, "cause": progress.cause}
        click.echo(json.dumps(report | {"counts": counts.to_json()}, indent=2))
    else:
        _print_counts(machine, progress, counts)
    if progress.status != "SUCCEEDED":
        sys.exit(1)


def _print_counts(machine: str, progress: map_runs.MapProgress, counts: MapCounts) -> None:
    title = f"{machine} {progress.status.lower()}: {counts.listed} listed"
    console.print(title + (f" ({progress.error})" if progress.error else ""), markup=False, highlight=False)
    if progress.cause:
        console.print(progress.cause, markup=False, highlight=False)
    table = Table("what came of each key", "keys", box=None, show_header=False)
    for outcome in OUTCOMES[machine]:
        table.add_row(LABELS[outcome], str(counts.by_outcome.get(outcome, 0)))
    errors = ", ".join(f"{error} {n}" for error, n in counts.errors.items())
    table.add_row("failed (the step itself)", f"{counts.failed_items}" + (f" ({errors})" if errors else ""))
    console.print(table)
    console.print("`filepipe status` follows the files themselves.")


@main.command()
@target_options
@click.argument("execution")
@click.option("--wait", is_flag=True, help="Follow the retried execution until it ends; exit 1 unless it succeeds.")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds --wait waits.")
def retry(endpoint: str, stack: str | None, region: str | None, execution: str, wait: bool, timeout: float) -> None:
    """Run a failed execution's file again, from wherever it is now: a Redrive of EXECUTION (name
    or ARN) where Step Functions allows one, as the console's Redrive does; otherwise (an Express
    execution, one that ended over 14 days ago) a new execution with its input on the Standard
    machine. A failure a newer version of the key resolved is not retried."""
    target = resolve(endpoint, stack, region)
    retried = call(lambda: retries.retry(target, execution))
    console.print(f"{retried.how}: {retried.name}", markup=False, highlight=False)
    if retried.not_redriven:
        console.print(f"  a new execution, not a redrive: {retried.not_redriven}", markup=False, highlight=False)
    if retried.resolution is not None:
        resolution = retried.resolution
        console.print(
            f"  {retried.key}: a newer version ({resolution.by}) was archived at {resolution.time}; the failed "
            f"original is kept at {resolution.original or '-'}. Nothing to retry.",
            markup=False,
            highlight=False,
        )
    if wait and retried.runs:
        with console.status(f"waiting for {retried.name}…"):
            view = call(lambda: retries.wait(target, retried.execution_arn, timeout))
        ended = f"{view.status.lower()}: {view.outcome or '-'}" + (f" ({view.error})" if view.error else "")
        console.print(ended, markup=False, highlight=False)
        if view.status != "SUCCEEDED":
            sys.exit(1)


@main.command()
@target_options
def redrive(endpoint: str, stack: str | None, region: str | None) -> None:
    """Retry every file in the failure prefix, and files a refused move left in staging, each
    with a new execution (``retry`` redrives one execution as the console does)."""
    target = resolve(endpoint, stack, region)
    results = call(lambda: retries.redrive(target))
    for key, name, started in results:
        console.print(f"{'started' if started else 'already started'}: {name}  ({key})", markup=False)
    console.print(f"{sum(s for *_, s in results)} started, {len(results)} failed file(s) in all")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--api", help="The upload API's base URL (default: the local cloud's, from --endpoint).")
@click.option(
    "--endpoint",
    default=lambda: os.environ.get("FILEPIPE_ENDPOINT", DEFAULT_ENDPOINT),
    show_default="$FILEPIPE_ENDPOINT or " + DEFAULT_ENDPOINT,
    help="The local cloud's endpoint (its API is at /api/).",
)
@click.option("--user", help="Sign in to the API's user pool as this user (the default sign-in).")
@click.option("--password", envvar="FILEPIPE_PASSWORD", help="The user's password (else $FILEPIPE_PASSWORD, or asked).")
@click.option("--iam", is_flag=True, help="Sign API requests with your AWS credentials (the API's IAM auth).")
@click.option("--token", envvar="FILEPIPE_TOKEN", help="A bearer token for a JWT-authorized API.")
@click.option("--wait", is_flag=True, help="Follow each file until it is archived or failed.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds --wait waits per file.")
def upload(
    paths: tuple[Path, ...],
    api: str | None,
    endpoint: str,
    user: str | None,
    password: str | None,
    iam: bool,
    token: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Upload files through the upload API (multipart in parallel parts for large ones).

    Against the local cloud (no --api) it signs in as the local user unless told otherwise.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from filepipe.uploads.client import UploadError

    client = _upload_client(api, endpoint, user, password, iam, token)
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as progress:
        for path in paths:
            task = progress.add_task(path.name, total=path.stat().st_size)
            started = time.monotonic()
            try:
                grant = client.grant(path)
                client.send(grant, path, functools.partial(progress.advance, task))
            except UploadError as exc:
                results.append((path.name, "-", "-", f"error: {exc}", time.monotonic() - started))
                continue
            results.append((path.name, grant["key"], grant["method"], "uploaded", time.monotonic() - started))
    reasons = []
    if wait:
        for index, (name, key, method, state, seconds) in enumerate(results):
            if state == "uploaded":
                final = client.wait(key, timeout=timeout)
                detail = final["state"] + (f": {final.get('error')}" if final["state"] == "failed" else "")
                if final.get("reason"):
                    reasons.append(f"{name}: {final['reason']}")
                results[index] = (name, key, method, detail, seconds)
    table = Table("file", "key", "method", "status", "seconds")
    for name, key, method, state, seconds in results:
        table.add_row(name, key, method, state, f"{seconds:.1f}")
    console.print(table)
    for reason in reasons:
        console.print(reason, markup=False, soft_wrap=True)
    bad = [r for r in results if r[3].startswith(("error", "failed"))]
    if bad:
        sys.exit(1)


def _upload_client(
    api: str | None, endpoint: str, user: str | None, password: str | None, iam: bool, token: str | None
) -> UploadClient:
    """The client for ``upload``'s options: IAM, a token, or a user pool sign-in."""
    import boto3

    from filepipe.local.config import LOCAL_USER
    from filepipe.uploads.client import SignIn, UploadClient

    base = api or f"{endpoint.rstrip('/')}/api/"
    if user is None and api is None and not (iam or token):
        user, password = LOCAL_USER
    sign_in = None
    if user is not None:
        sign_in = SignIn(base, user, password or click.prompt(f"password for {user}", hide_input=True))
    return UploadClient(base, session=boto3.Session() if iam else None, token=token, sign_in=sign_in)
