"""API tokens: two roles, stored hashed in Redis, compared without leaking timing.

A token is `faas_<role>_<43 random characters>`. Redis keeps only its SHA-256 digest, under which a lookup
finds it (a hash lookup reveals nothing about how close a wrong token was); the operator's own admin token
(FAAS_API_TOKEN) is compared with hmac.compare_digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis

from .errors import Forbidden, InvalidArgument, TokenNotFound, Unauthorized

CACHE_S = 5.0
"""Seconds a verified token is trusted without asking Redis again (so a revocation takes up to this long)."""

NAME_MAX = 64


class Role(str, Enum):
    ADMIN = "admin"
    """Everything."""
    INVOKE = "invoke"
    """Invocations and reading their outcome."""


@dataclass(frozen=True)
class Token:
    id: str
    role: Role
    name: str
    created_at: float

    def to_api(self) -> dict:
        return {"id": self.id, "role": self.role.value, "name": self.name, "createdAt": self.created_at}

    @classmethod
    def from_api(cls, data: dict) -> Token:
        """A credential's record as stored (its API form; an access key's has its sealed secret beside)."""
        return cls(id=data["id"], role=Role(data["role"]), name=data["name"], created_at=data["createdAt"])

    def allows(self, needed: Role) -> bool:
        return self.role is Role.ADMIN or self.role is needed


def checked_role_and_name(role: object, name: object) -> tuple[Role, str]:
    """A new credential's role and name (a token's or an access key's), InvalidArgument when wrong."""
    try:
        role = Role(role)
    except ValueError:
        raise InvalidArgument("role must be admin or invoke") from None
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX or not name.isprintable():
        raise InvalidArgument(f"name must be a string of 1-{NAME_MAX} printable characters")
    return role, name


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


OPERATOR = Token(id="operator", role=Role.ADMIN, name="FAAS_API_TOKEN", created_at=0.0)
"""The operator's token (FAAS_API_TOKEN), which no store holds."""


class TokenStore:
    def __init__(self, redis: Redis, prefix: str, admin_secret: str = ""):
        self.redis = redis
        self.key = f"{prefix}:tokens"
        self._admin = admin_secret
        self._admin_bytes = admin_secret.encode()
        self._cache: dict[str, tuple[float, Token | None]] = {}
        self.platform = PlatformSecret(redis, prefix)
        """Checks that a call comes from the platform's own parts."""

    async def create(self, role: object, name: object) -> tuple[Token, str]:
        role, name = checked_role_and_name(role, name)
        secret = f"faas_{role.value}_{secrets.token_urlsafe(32)}"
        token = Token(id=secrets.token_hex(6), role=role, name=name, created_at=time.time())
        await self.redis.hset(self.key, digest(secret), json.dumps(token.to_api()))
        return token, secret

    async def list(self) -> list[Token]:
        raw = await self.redis.hvals(self.key)
        tokens = [self._load(v) for v in raw]
        return sorted(tokens, key=lambda t: t.created_at)

    async def revoke(self, token_id: str) -> None:
        for key, value in (await self.redis.hgetall(self.key)).items():
            if self._load(value).id == token_id:
                await self.redis.hdel(self.key, key)
                self._cache.clear()
                return
        raise TokenNotFound(f"no token {token_id}")

    async def authenticate(self, header: str | None) -> Token:
        """The token of an `Authorization: Bearer ...` header; Unauthorized when missing or wrong."""
        scheme, _, secret = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():  # the scheme is case-insensitive (RFC 9110)
            raise Unauthorized("this API needs a bearer token: Authorization: Bearer <token>")
        secret = secret.strip()
        if self._admin and hmac.compare_digest(secret.encode(), self._admin_bytes):
            return OPERATOR
        key = digest(secret)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            token = hit[1]
        else:
            raw = await self.redis.hget(self.key, key)
            token = self._load(raw) if raw else None
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = (now + (CACHE_S if token else 1.0), token)
        if token is None:
            raise Unauthorized("the bearer token is not valid")
        return token

    @staticmethod
    def _load(raw: bytes) -> Token:
        return Token.from_api(json.loads(raw))


PLATFORM_HEADER = "X-Faas-Platform"
"""Sent by the platform's own parts (the async workers) with the platform secret: only a call that carries it
may set the headers that speak for the platform (X-Faas-Trigger, X-Fc-Attempt)."""

PLATFORM_SECRET_REFRESH_S = 1.0
"""Least seconds between two reads of the platform secret from Redis when a call's secret does not match."""


def platform_secret_key(prefix: str) -> str:
    return f"{prefix}:platform-secret"


def platform_secret(conn, prefix: str) -> str:
    """The platform's secret, made on first use (a sync Redis client: the workers' side). Whoever can read the
    platform's Redis is the platform; an invoke or admin token alone is not."""
    key = platform_secret_key(prefix)
    with conn.pipeline(transaction=False) as pipe:
        pipe.set(key, secrets.token_urlsafe(32), nx=True)
        pipe.get(key)
        return (pipe.execute()[1] or b"").decode()


class PlatformSecret:
    """The control plane's side: checks the secret a call carries (constant time), reading it again from Redis
    when it does not match (at most once a second), so that one made anew after a Redis loss is learnt."""

    def __init__(self, redis: Redis, prefix: str, refresh_s: float = PLATFORM_SECRET_REFRESH_S):
        self.redis, self.key, self.refresh_s = redis, platform_secret_key(prefix), refresh_s
        self._value = b""
        self._read_at = -refresh_s
        self._lock = asyncio.Lock()  # calls that miss wait for one read, rather than fail beside it

    def _matches(self, given: bytes) -> bool:
        return bool(self._value) and hmac.compare_digest(given, self._value)

    async def check(self, offered: str | None) -> bool:
        if not offered:
            return False
        given = offered.encode("utf-8", "replace")
        if self._matches(given):
            return True
        async with self._lock:
            if self._matches(given):  # read by the call that held the lock
                return True
            if time.monotonic() - self._read_at < self.refresh_s:
                return False
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.key, secrets.token_urlsafe(32), nx=True)
                pipe.get(self.key)
                self._value = (await pipe.execute())[1] or b""
            self._read_at = time.monotonic()
            return self._matches(given)


def require(token: Token, needed: Role) -> None:
    if not token.allows(needed):
        raise Forbidden(f"a token of role {token.role.value} may not do this; it needs role {needed.value}")
