"""The client side of the upload API, as ``filepipe upload`` uses it."""

from __future__ import annotations

import json
import mimetypes
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

Progress = Callable[[int], None]
"""Called with the number of bytes just sent."""
TERMINAL = ("archived", "failed")


class UploadError(Exception):
    """The API refused, or the bytes could not be sent."""


def content_type_for(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class UploadClient:
    """Talks to ``{api}/uploads``; signs requests with SigV4 when given a boto3 session (IAM auth)."""

    def __init__(self, api: str, session: boto3.Session | None = None, token: str | None = None) -> None:
        self.api = api.rstrip("/") + "/"
        self._session, self._token = session, token

    def grant(self, path: Path) -> dict[str, Any]:
        body = {"filename": path.name, "contentType": content_type_for(path), "size": path.stat().st_size}
        return self._call("POST", "uploads", body)

    def status(self, key: str) -> dict[str, Any]:
        return self._call("GET", f"uploads/status?key={quote(key, safe='')}")

    def send(self, grant: dict[str, Any], path: Path, progress: Progress) -> None:
        if grant["method"] == "PUT":
            self._put(grant, path, progress)
        else:
            self._multipart(grant, path, progress)

    def wait(self, key: str, timeout: float = 600, poll: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.status(key)
            if state["state"] in TERMINAL or time.monotonic() > deadline:
                return state
            time.sleep(poll)

    def _put(self, grant: dict[str, Any], path: Path, progress: Progress) -> None:
        size = path.stat().st_size
        with path.open("rb") as handle:
            request = urllib.request.Request(
                grant["url"],
                data=_Counting(handle, progress),
                method="PUT",
                headers={**grant.get("headers", {}), "Content-Length": str(size)},
            )
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                raise UploadError(f"PUT answered {exc.code}: {exc.read()[:300]!r}") from exc

    def _multipart(self, grant: dict[str, Any], path: Path, progress: Progress) -> None:
        credentials = grant["credentials"]
        s3 = boto3.client(
            "s3",
            region_name=grant["region"],
            endpoint_url=grant.get("endpoint"),
            aws_access_key_id=credentials["accessKeyId"],
            aws_secret_access_key=credentials["secretAccessKey"],
            aws_session_token=credentials["sessionToken"],
            config=Config(retries={"mode": "standard", "max_attempts": 6}),
        )
        transfer = TransferConfig(
            multipart_threshold=1, multipart_chunksize=int(grant["partSize"]), max_concurrency=8, use_threads=True
        )
        try:
            s3.upload_file(
                str(path),
                grant["bucket"],
                grant["key"],
                ExtraArgs={"ContentType": content_type_for(path)},
                Config=transfer,
                Callback=progress,
            )
        except (S3UploadFailedError, ClientError) as exc:
            raise UploadError(f"the multipart upload failed: {exc}") from exc

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url = self.api + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._session is not None:
            headers = self._sign(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                message = exc.reason
            raise UploadError(f"the upload API answered {exc.code}: {message}") from exc
        except urllib.error.URLError as exc:
            raise UploadError(f"cannot reach the upload API at {self.api}: {exc.reason}") from exc

    def _sign(self, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        assert self._session is not None
        credentials = self._session.get_credentials()
        if credentials is None:
            raise UploadError("no AWS credentials to sign the upload API request with")
        region = self._session.region_name or urlsplit(url).hostname.split(".")[2]  # type: ignore[union-attr]
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())


class _Counting:
    """A file wrapper that reports bytes as urllib reads them."""

    def __init__(self, handle: BinaryIO, progress: Progress) -> None:
        self._handle, self._progress = handle, progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size if size and size > 0 else 1 << 20)
        if chunk:
            self._progress(len(chunk))
        return chunk
