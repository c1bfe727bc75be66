"""The client side of the upload API, as ``filepipe upload`` uses it."""

from __future__ import annotations

import contextlib
import json
import mimetypes
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urljoin, urlsplit

import boto3
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

PART_CONCURRENCY = 8
PART_ATTEMPTS = 3
RENEW_ON = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidToken"})
"""S3's answers when a grant's credentials have ended: renew, then try the call again."""
RENEW_BEFORE = timedelta(minutes=5)
TOKEN_MARGIN_SECONDS = 300
Progress = Callable[[int], None]
"""Called with the number of bytes just sent."""
TERMINAL = ("archived", "failed")


class UploadError(Exception):
    """The API refused, or the bytes could not be sent."""


def content_type_for(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class SignIn:
    """A user of the API's Cognito user pool, signed in as the upload page signs in (a public app
    client, ``USER_PASSWORD_AUTH``), with an ID token kept fresh by its refresh token."""

    def __init__(self, api: str, username: str, password: str) -> None:
        self._username, self._password = username, password
        self._config_url = urljoin(api.rstrip("/") + "/", "../ui/config.json")
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh: str | None = None
        self._expires = 0.0

    def token(self, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or self._expires - time.time() < TOKEN_MARGIN_SECONDS:
                self._sign_in()
            assert self._token is not None
            return self._token

    def _sign_in(self) -> None:
        config = _get_json(self._config_url)
        if config.get("auth") != "cognito":
            raise UploadError(f"the upload API signs in with {config.get('auth')!r}, not a user pool (try --iam)")
        idp = boto3.client(
            "cognito-idp",
            endpoint_url=config["cognitoEndpoint"],
            region_name=config["region"],
            config=Config(signature_version=UNSIGNED, retries={"mode": "standard", "max_attempts": 3}),
        )
        try:
            if self._refresh:
                result = idp.initiate_auth(
                    AuthFlow="REFRESH_TOKEN_AUTH",
                    ClientId=config["clientId"],
                    AuthParameters={"REFRESH_TOKEN": self._refresh},
                )
            else:
                result = idp.initiate_auth(
                    AuthFlow="USER_PASSWORD_AUTH",
                    ClientId=config["clientId"],
                    AuthParameters={"USERNAME": self._username, "PASSWORD": self._password},
                )
        except ClientError as exc:
            if self._refresh:  # an expired or revoked refresh token: sign in again
                self._refresh = None
                return self._sign_in()
            raise UploadError(f"sign-in as {self._username!r} failed: {exc.response['Error']['Message']}") from exc
        if "AuthenticationResult" not in result:
            challenge = result.get("ChallengeName")
            raise UploadError(f"sign-in as {self._username!r} asks for {challenge}: set a permanent password first")
        tokens = result["AuthenticationResult"]
        self._token = tokens["IdToken"]
        self._refresh = tokens.get("RefreshToken", self._refresh)
        self._expires = time.time() + int(tokens.get("ExpiresIn", 3600))


class UploadClient:
    """Talks to ``{api}/uploads``: signs requests with SigV4 when given a boto3 session (IAM
    auth), or sends a bearer token: one given, or one from signing in to the user pool."""

    def __init__(
        self,
        api: str,
        session: boto3.Session | None = None,
        token: str | None = None,
        sign_in: SignIn | None = None,
    ) -> None:
        self.api = api.rstrip("/") + "/"
        self._session, self._token, self._sign_in = session, token, sign_in

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

    def renew(self, key: str) -> dict[str, Any]:
        """New credentials for a multipart upload under way (``POST /api/uploads/renew``)."""
        return self._call("POST", "uploads/renew", {"key": key})

    def _multipart(self, grant: dict[str, Any], path: Path, progress: Progress) -> None:
        """Parts in parallel, each retried; the grant's credentials are renewed before they end,
        or when S3 says they have, so an upload may take longer than they last."""
        credentials = _Renewing(self, grant)
        bucket, key, part_size = grant["bucket"], grant["key"], int(grant["partSize"])
        size = path.stat().st_size
        created = credentials.call("create_multipart_upload", Bucket=bucket, Key=key, ContentType=grant["contentType"])
        upload_id = created["UploadId"]

        def send(number: int) -> dict[str, Any]:
            with path.open("rb") as handle:
                handle.seek((number - 1) * part_size)
                body = handle.read(part_size)
            answer = credentials.call(
                "upload_part", Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            progress(len(body))
            return {"PartNumber": number, "ETag": answer["ETag"]}

        numbers = range(1, max(1, -(-size // part_size)) + 1)
        try:
            with ThreadPoolExecutor(max_workers=PART_CONCURRENCY) as pool:
                parts = list(pool.map(send, numbers))
            credentials.call(
                "complete_multipart_upload",
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as exc:
            with contextlib.suppress(ClientError, UploadError):
                credentials.call("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
            if isinstance(exc, ClientError):
                raise UploadError(f"the multipart upload failed: {exc}") from exc
            raise

    def _call(self, method: str, path: str, body: Any = None, renew: bool = False) -> dict[str, Any]:
        url = self.api + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        token = self._sign_in.token(renew) if self._sign_in is not None else self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._session is not None:
            headers = self._sign(method, url, data, headers)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and self._sign_in is not None and not renew:
                return self._call(method, path, body, renew=True)
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


def _get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, ValueError) as exc:
        raise UploadError(f"cannot read the upload page's configuration at {url}: {exc}") from exc


class _Renewing:
    """A grant's credentials, and S3 calls made with them: renewed through the API when they are
    about to end or S3 answers that they have, each call retried a few times."""

    def __init__(self, api: UploadClient, grant: dict[str, Any]) -> None:
        self._api, self._grant = api, grant
        self._lock = threading.Lock()
        self._credentials = grant["credentials"]
        self._client = self._make_client()

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        for attempt in range(1, PART_ATTEMPTS + 1):
            client = self._current()
            try:
                return dict(getattr(client, operation)(**params))
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if attempt == PART_ATTEMPTS or code not in RENEW_ON:
                    raise
                self._renew(client)
        raise AssertionError("unreachable")

    def _current(self) -> Any:
        expires = datetime.fromisoformat(str(self._credentials["expiration"]).replace(" ", "T"))
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires - datetime.now(UTC) < RENEW_BEFORE:
            self._renew(self._client)
        return self._client

    def _renew(self, stale: Any) -> None:
        with self._lock:
            if self._client is stale:  # another thread may have renewed already
                self._credentials = self._api.renew(self._grant["key"])["credentials"]
                self._client = self._make_client()

    def _make_client(self) -> Any:
        c = self._credentials
        return boto3.client(
            "s3",
            region_name=self._grant["region"],
            endpoint_url=self._grant.get("endpoint"),
            aws_access_key_id=c["accessKeyId"],
            aws_secret_access_key=c["secretAccessKey"],
            aws_session_token=c["sessionToken"],
            config=Config(retries={"mode": "standard", "max_attempts": 6}, max_pool_connections=PART_CONCURRENCY),
        )
