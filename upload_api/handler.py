"""Upload API Lambda (API Gateway HTTP API): grants uploads, reports their status, serves the page.

Routes (the same locally, where ``filepipe up`` serves them):
  POST /api/uploads            {"filename", "contentType", "size"} -> a presigned PUT or multipart credentials
  POST /api/uploads/renew      {"key"} -> new credentials for a multipart upload under way
  GET  /api/uploads/status     ?key=... -> waiting | processing | archived | failed (with a reason)
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
from botocore.exceptions import ClientError

from filepipe.claims import Claims
from filepipe.config import Settings
from filepipe.errors import error_code, is_access_denied
from filepipe.partitions import partition_of
from filepipe.uploads import UploadConfig, UploadRejected, UploadRequest, UploadService, presigning_config

logger = Logger(service="filepipe-upload-api")
app = APIGatewayHttpResolver()
STATIC = Path(__file__).with_name("static")
PAGES = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/": ("index.html", "text/html; charset=utf-8"),
    "/ui/upload.js": ("upload.js", "text/javascript; charset=utf-8"),
    "/ui/aws4fetch.mjs": ("vendor/aws4fetch.esm.mjs", "text/javascript; charset=utf-8"),
}
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
"""No page may frame the upload page (a framing page could lay its own buttons over the file
chooser); each file is exactly the type it says."""


@cache
def service() -> UploadService:
    env = os.environ
    settings = Settings.from_env()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = env.get("AWS_ENDPOINT_URL")
    upload_config = UploadConfig.from_env(
        env,
        bucket=settings.staging_bucket,
        region=region,
        archive_bucket=settings.archive_bucket,
        layout=settings.layout,
        s3_endpoint=endpoint,
    )
    return UploadService(
        boto3.client("s3", region_name=region, config=presigning_config(endpoint)),
        boto3.client("sts", region_name=region),
        upload_config,
        sfn=boto3.client("stepfunctions", region_name=region),
        state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
        claims=Claims(boto3.client("dynamodb", region_name=region), env["CLAIMS_TABLE"])
        if env.get("CLAIMS_TABLE")
        else None,
    )


@app.post("/api/uploads")
def create_upload() -> Response:
    try:
        grant = service().create(UploadRequest.parse(_body()), owner=caller(app.current_event.raw_event))
    except UploadRejected as exc:
        logger.info("upload refused", extra={"status": exc.status, "reason": exc.message})
        return _error(exc.status, exc.message)
    logger.info("upload granted", extra={"key": grant["key"], "method": grant["method"]})
    return _json(201, grant)


@app.post("/api/uploads/renew")
def renew_upload() -> Response:
    try:
        body = _body()
        key = body.get("key") if isinstance(body, dict) else None
        renewed = service().renew(key, owner=caller(app.current_event.raw_event))
    except UploadRejected as exc:
        logger.info("renewal refused", extra={"status": exc.status, "reason": exc.message})
        return _error(exc.status, exc.message)
    return _json(200, renewed)


def _body() -> Any:
    """The request's JSON body; a body that is not (or is nested past reason) is a 400."""
    event = app.current_event
    try:
        return json.loads((event.decoded_body if event.is_base64_encoded else event.body) or "")
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise UploadRejected(400, "body must be a JSON object") from None


def caller(event: dict[str, Any]) -> str:
    """Who is calling, as the API's authorizer established it: a JWT's subject, or an IAM
    principal; empty when the API has no authorizer (the local cloud without sign-in)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if claims.get("sub"):
        return f"jwt:{claims.get('iss', '')}#{claims['sub']}"
    iam = authorizer.get("iam") or {}
    return f"iam:{iam['userArn']}" if iam.get("userArn") else ""


@app.get("/api/uploads/status")
def upload_status() -> Response:
    key = app.current_event.get_query_string_value("key", "") or ""
    try:
        return _json(200, service().status(key, owner=caller(app.current_event.raw_event)))
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


@app.get("/ui/config.json")
def page_config() -> Response:
    """How the page signs in: the API's authorization, and for Cognito its pool and app client
    (a public client: nothing here is secret)."""
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    config: dict[str, Any] = {"auth": env.get("UPLOAD_AUTH", "iam"), "region": region}
    if config["auth"] == "cognito":
        config |= {
            "userPoolId": env["USER_POOL_ID"],
            "clientId": env["USER_POOL_CLIENT_ID"],
            "cognitoEndpoint": env.get("COGNITO_ENDPOINT")
            or f"https://{partition_of(region).host('cognito-idp', region)}/",
        }
    return Response(200, "application/json", json.dumps(config), headers={"Cache-Control": "no-cache"})


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
    return Response(200, content_type, (STATIC / name).read_text(encoding="utf-8"), headers=PAGE_HEADERS)


def _json(status: int, value: Any) -> Response:
    return Response(status, "application/json", json.dumps(value, default=str))


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
