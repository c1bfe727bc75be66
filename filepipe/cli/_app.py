"""The ``filepipe`` group and what its commands share: the console, the stack's defaults, and
one-line errors instead of tracebacks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar

import click
from rich.console import Console

from filepipe.deployment import Deployment

T = TypeVar("T")
DEFAULTS = Deployment()
"""The stack's defaults, which ``up`` runs unless told otherwise."""

console = Console(width=None if sys.stdout.isatty() else 150)
NO_WAIT = click.option("--no-wait", is_flag=True, help="Start it and return; watch it in the console (its Map Run).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON (for scripts).")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the local services do.")
def main(verbose: bool) -> None:
    """filepipe: process files uploaded to S3 (Step Functions, Lambda, AWS Batch)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:
        # The handlers' own JSON logs, and moto's engine logging every failed task as an ERROR,
        # would drown the display; -v shows them.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
        logging.getLogger("moto").setLevel(logging.CRITICAL)


def call(action: Callable[[], T]) -> T:
    """Turn connection and AWS errors into one clear line instead of a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        return action()
    except EndpointConnectionError as exc:
        raise click.ClickException(
            f"nothing answers at {exc.kwargs.get('endpoint_url')}: is `filepipe up` running?"
        ) from exc
    except (ClientError, BotoCoreError, LookupError, ValueError, TimeoutError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc
