"""Upload API Lambda (API Gateway HTTP API): grants uploads, reports their status, serves the page.

Routes (the same locally, where ``filepipe up`` serves them):
  POST /api/uploads            {"filename", "contentType", "size"} -> a presigned PUT or multipart credentials
  GET  /api/uploads/status     ?key=... -> waiting | processing | archived | failed
  GET  /ui/                    the upload page (and its two scripts)
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError

from filepipe.config import Settings
from filepipe.errors import error_code, is_access_denied
from filepipe.storage import MiB
from filepipe.uploads import UploadConfig, UploadRejected, UploadRequest, UploadService

logger = Logger(service="filepipe-upload-api")
app = APIGatewayHttpResolver()
STATIC = Path(__file__).with_name("static")
PAGES = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/": ("index.html", "text/html; charset=utf-8"),
    "/ui/upload.js": ("upload.js", "text/javascript; charset=utf-8"),
    "/ui/aws4fetch.mjs": ("vendor/aws4fetch.esm.mjs", "text/javascript; charset=utf-8"),
}


@cache
def service() -> UploadService:
    env = os.environ
    settings = Settings.from_env()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 3})
    types = tuple(t.strip() for t in env.get("UPLOAD_CONTENT_TYPES", "").split(",") if t.strip())
    optional: dict[str, Any] = {"content_types": types} if types else {}
    upload_config = UploadConfig(
        bucket=settings.staging_bucket,
        role_arn=env["UPLOAD_ROLE_ARN"],
        region=region,
        prefix=env.get("UPLOAD_PREFIX", "uploads/"),
        presign_max_bytes=int(env.get("PRESIGN_MAX_BYTES", 100 * MiB)),
        max_bytes=int(env.get("MAX_UPLOAD_BYTES", 5 * 1024**4)),
        part_size=int(env.get("UPLOAD_PART_SIZE", 16 * MiB)),
        archive_bucket=settings.archive_bucket,
        layout=settings.layout,
        s3_endpoint=env.get("AWS_ENDPOINT_URL"),
        **optional,
    )
    return UploadService(
        boto3.client("s3", region_name=region, config=config),
        boto3.client("sts", region_name=region),
        upload_config,
        sfn=boto3.client("stepfunctions", region_name=region),
        state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
    )


@app.post("/api/uploads")
def create_upload() -> Response:
    try:
        body = json.loads(app.current_event.body or "")
    except ValueError:
        return _error(400, "body must be JSON")
    try:
        grant = service().create(UploadRequest.parse(body))
    except UploadRejected as exc:
        logger.info("upload refused", extra={"status": exc.status, "reason": exc.message})
        return _error(exc.status, exc.message)
    logger.info("upload granted", extra={"key": grant["key"], "method": grant["method"]})
    return _json(201, grant)


@app.get("/api/uploads/status")
def upload_status() -> Response:
    key = app.current_event.get_query_string_value("key", "") or ""
    try:
        return _json(200, service().status(key))
    except UploadRejected as exc:
        return _error(exc.status, exc.message)


@app.exception_handler(ClientError)
def aws_call_failed(exc: ClientError) -> Response:
    """An AWS call failed: the log says which and why (a refused one names the grant the
    deployment lacks); the caller gets a JSON 500, never a stack trace."""
    code = error_code(exc)
    if is_access_denied(exc):
        logger.exception("an AWS call was refused: the function's role lacks a grant", extra={"code": code})
    else:
        logger.exception("an AWS call failed", extra={"code": code})
    return _error(500, "the upload service failed; try again later")


@app.get("/ui/.*")
def page() -> Response:
    return _static(app.current_event.path)


@app.get("/ui")
def page_root() -> Response:
    return _static("/ui")


def _static(path: str) -> Response:
    if path not in PAGES:
        return _error(404, "no such page")
    name, content_type = PAGES[path]
    return Response(
        200, content_type, (STATIC / name).read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
    )


def _json(status: int, value: Any) -> Response:
    return Response(status, "application/json", json.dumps(value, default=str))


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
