"""Who is calling: anonymous callers are citizens; API keys (stored as SHA-256 hashes in settings)
identify officials and admins; short-lived signed tokens let a portal's page act for an official
without ever holding the API key. A token is only ever obtained with an API key (never with another
token, so a leaked token dies when it expires), and it dies with its key: remove the key from
`ASSISTANT_API_KEYS` and every token issued with it is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

class AuthError(Exception):
    """A credential was given but is not valid (401)."""


@dataclass(frozen=True)
class Caller:
    role: str = "citizen"
    key_id: str | None = None  # first characters of the key hash, for the audit log
    via_token: bool = False  # authenticated by a widget token, not by the API key itself

    @property
    def audience(self) -> str:
        return "citizen" if self.role == "citizen" else "official"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_keys(spec: str) -> dict[str, str]:
    """`official:HASH,admin:HASH` -> {HASH: role}."""
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        role, _, digest = item.partition(":")
        if role not in ("official", "admin") or len(digest) != 64:
            raise ValueError(f"ASSISTANT_API_KEYS entry {item!r} must be official:SHA256 or admin:SHA256")
        out[digest.lower()] = role
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(self, api_keys: str, secret: str | None, token_ttl_s: int) -> None:
        self.keys = parse_keys(api_keys)
        self.key_ids = {digest[:12] for digest in self.keys}
        self.secret = (secret or secrets.token_hex(32)).encode()
        self.ttl = token_ttl_s

    def issue_token(self, caller: Caller) -> tuple[str, int]:
        expires = int(time.time()) + self.ttl
        body = _b64(json.dumps({"role": caller.role, "kid": caller.key_id, "exp": expires}).encode())
        sig = _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest())
        return f"t.{body}.{sig}", expires

    def caller(self, authorization: str | None) -> Caller:
        if not authorization:
            return Caller()
        scheme, _, cred = authorization.partition(" ")
        if scheme.lower() != "bearer" or not cred:
            raise AuthError("use 'Authorization: Bearer <API key or token>'")
        if cred.startswith("t."):
            return self._token(cred)
        digest = hash_key(cred)
        role = self.keys.get(digest)
        if role is None:
            raise AuthError("unknown API key")
        return Caller(role=role, key_id=digest[:12])

    def _token(self, token: str) -> Caller:
        try:
            _, body, sig = token.split(".")
            good = _b64(hmac.new(self.secret, body.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(sig.encode(), good.encode()):
                raise AuthError("invalid token")
            claims = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            raise AuthError("invalid token") from None
        if claims.get("exp", 0) < time.time():
            raise AuthError("token expired: ask the portal for a new one")
        if claims.get("role") not in ("official", "admin"):
            raise AuthError("invalid token")
        if claims.get("kid") not in self.key_ids:
            raise AuthError("the API key this token was issued with is no longer valid")
        # a token never carries more than official rights: admin actions need the key itself
        return Caller(role="official", key_id=claims["kid"], via_token=True)
