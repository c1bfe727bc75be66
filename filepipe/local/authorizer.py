"""The local upload API's JWT authorizer, as API Gateway's HTTP API runs one for a Cognito user
pool: the bearer token's signature is checked against the pool's published keys, and its
issuer, audience and lifetime against the pool and its app client.

The keys come from the local cloud's own Cognito (moto's), at the path Cognito publishes them;
moto signs with a key that ships inside moto, so the local sign-in rehearses the flow, and is no
security boundary of its own: the front door and the signed AWS APIs are (``guard.py``).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

KEYS_TTL_SECONDS = 300


class Unauthorized(Exception):
    """API Gateway's 401: no token, or one it does not accept."""


@dataclass
class CognitoAuthorizer:
    endpoint: str
    """The local cloud's endpoint, where the pool's keys are published."""
    region: str
    user_pool_id: str
    client_id: str
    _keys: KeySet | None = None
    _fetched: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    def claims(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, when ``Authorization: Bearer <token>`` is one API Gateway accepts."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("no bearer token")
        try:
            token = jwt.decode(authorization.removeprefix("Bearer ").strip(), self._key_set(), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                leeway=0, iss={"essential": True, "value": self.issuer}, exp={"essential": True}
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized(str(exc)) from exc
        claims = dict(token.claims)
        audience = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
        if audience != self.client_id:
            raise Unauthorized("the token is for another app client")
        return claims

    def _key_set(self) -> KeySet:
        with self._lock:
            if self._keys is None or time.monotonic() - self._fetched > KEYS_TTL_SECONDS:
                url = f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"
                with urllib.request.urlopen(url, timeout=10) as answer:
                    self._keys = KeySet.import_key_set(json.loads(answer.read()))
                self._fetched = time.monotonic()
            return self._keys
