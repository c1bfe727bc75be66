"""``filepipe why``: what happened to my file, in a few lines."""

from __future__ import annotations

import json

import click

from filepipe import why as stories
from filepipe.cli._app import AS_JSON, call, console, main
from filepipe.cli._target import resolve, target_options

AREA_LABELS = {
    "staging": "in staging",
    "originals": "archived",
    "failed": "failed",
    "superseded": "superseded",
}


@main.command()
@target_options
@AS_JSON
@click.argument("asked", metavar="FILE")
def why(endpoint: str, stack: str | None, region: str | None, as_json: bool, asked: str) -> None:
    """Where every version of FILE is, the executions that handled it, why it failed and what to
    do next. FILE is a key, a file name (the newest uploads of that name) or an execution name."""
    target = resolve(endpoint, stack, region)
    console_region = target.sfn.meta.region_name if stack else None
    found = call(lambda: stories.why(target, asked, console_region))
    if as_json:
        click.echo(json.dumps([story.to_json() for story in found], indent=2, ensure_ascii=False))
    elif not found:
        console.print(f"nothing named {asked!r} in staging or the archive, and no execution of that name")
    for story in [] if as_json else found:
        _show(story)
    if not found:
        raise SystemExit(1)


def _show(story: stories.Story) -> None:
    def line(label: str, text: str) -> None:
        console.print(f"  [bold]{label:<10}[/] ", end="")
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    console.print(f"[bold]{story.key}[/]: {story.state}", highlight=False)
    for place in story.places:
        when = f", {place.modified:%Y-%m-%d %H:%M:%S}" if place.modified else ""
        line(AREA_LABELS[place.area], f"{place.key} (version {place.version_id or '-'}{when})")
    for key, made_by in story.outputs:
        line("output", f"{key} ({made_by})")
    if story.failure is not None:
        failure = story.failure
        attempts = "1 attempt" if failure.attempts == 1 else f"{failure.attempts} attempts"
        line("reason", f"{failure.error}: {failure.message or failure.cause or '-'} ({attempts})")
    if story.resolution is not None:
        line("resolved", f"by version {story.resolution.by} ({story.resolution.time})")
    for view in story.executions:
        seconds = f", {view.seconds:.1f} s" if view.seconds is not None else ""
        ended = f", {view.outcome}" if view.outcome else ""
        line("execution", f"{view.name} {view.status} ({view.tier}, {view.path}{seconds}{ended})")
        if view.name in story.console:
            line("", story.console[view.name])
    line("next", story.next_step)
