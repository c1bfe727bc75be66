"""The ``filepipe`` group and what its commands share: the console, the stack's defaults, and
one-line errors instead of tracebacks."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import click
from rich.console import Console

from filepipe.deployment import Deployment

T = TypeVar("T")
DEFAULTS = Deployment()
"""The stack's defaults, which ``up`` runs unless told otherwise."""

console = Console(width=None if sys.stdout.isatty() else 150)
NO_WAIT = click.option("--no-wait", is_flag=True, help="Start it and return; watch it in the console (its Map Run).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON (for scripts).")


class OneLineErrors(click.Group):
    """Every AWS or connection error a command meets becomes one line saying what to do."""

    def invoke(self, ctx: click.Context) -> object:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().invoke(ctx)
        except (ClientError, BotoCoreError) as exc:
            raise click.ClickException(explain(exc)) from exc


def explain(exc: Exception) -> str:
    """What went wrong and what to do, in one line."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        TokenRetrievalError,
    )

    if isinstance(exc, EndpointConnectionError):
        url = urlsplit(str(exc.kwargs.get("endpoint_url")))
        return f"nothing answers at {url.scheme}://{url.netloc}: is `filepipe up` running?"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials: sign in (`aws configure`, `aws sso login`, or AWS_PROFILE) "
            "to use --stack; the local cloud needs none"
        )
    if isinstance(exc, NoRegionError):
        return "no AWS region: give --region, or set AWS_REGION"
    if isinstance(exc, TokenRetrievalError):
        return "your AWS sign-in has expired: `aws sso login` again"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip()
        operation = exc.operation_name
        if operation == "DescribeStacks" and "does not exist" in message:
            return f"{message.rstrip('.')}: check --stack and --region (or AWS_REGION)"
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"):
            return f"{operation} was refused ({code}): your credentials need that permission on the stack's resources"
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return "your AWS credentials have expired: sign in again"
        if code in ("InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"):
            return f"your AWS credentials were not accepted ({code}): check them, or sign in again"
        return f"{operation}: {code}: {message}"
    return str(exc).strip("'\"")


@click.group(cls=OneLineErrors)
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
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return action()
    except (ClientError, BotoCoreError) as exc:
        raise click.ClickException(explain(exc)) from exc
    except (LookupError, ValueError, TimeoutError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from exc
