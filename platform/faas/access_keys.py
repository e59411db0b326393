"""Access keys: an id and a secret that sign requests (Function Compute's surfaces), with the two roles of
API tokens.

HMAC needs the secret itself on the verifying side, so Redis keeps it encrypted (AES-GCM, under a key
derived from FAAS_SECRET_KEY, with the key id as associated data: a sealed secret moved to another id does
not open). A control plane keeps the records it has read; a revoke moves a generation counter on, which each
signed request reads, so a revoked key stops working at once on every control plane. Nonces of FC 3.0
requests are remembered, per second of their date, for as long as that date is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from .auth import Token, checked_role_and_name
from .errors import AccessKeyNotFound, ServiceUnavailable
from .nonces import NonceBook
from .signing import Claim

KEY_ID_RE = re.compile(r"FK[A-Z0-9]{18}")
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 30
"""As Function Compute's own secrets: 30 letters and digits."""
_FOUND_MAX = 10_000


def new_key_id() -> str:
    return "FK" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(18))


def derived_key(key_material: str, purpose: bytes) -> bytes:
    """A key of its own for each use of the platform's key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key_material.encode())


class SecretBox:
    """Seals secrets under the platform's key (AES-256-GCM; a fresh 96-bit nonce for each)."""

    def __init__(self, key_material: str):
        self._aead = AESGCM(derived_key(key_material, b"faas access-key secrets"))

    def seal(self, key_id: str, secret: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, secret.encode(), key_id.encode())).decode()

    def open(self, key_id: str, sealed: str) -> str | None:
        """The secret, None when it was not sealed for `key_id` under this key (another FAAS_SECRET_KEY)."""
        try:
            raw = base64.b64decode(sealed)
            return self._aead.decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except (InvalidTag, ValueError):
            return None


@dataclass(frozen=True)
class Found:
    key: Token
    secret: str
    generation: bytes
    """The keys' generation when this record was read: a revoke moves it on, and the record is read again."""


class AccessKeyStore:
    """Access keys in Redis: `{prefix}:access-keys` maps each id to its record and sealed secret;
    `{prefix}:access-keys:generation` moves on with each revoke. A control plane keeps the records it read,
    and each signed request learns the generation in the same round trip that admits its nonce (shared by the
    requests of a batch, faas.nonces): a record read before a revoke is read again, so a revoke holds at once."""

    def __init__(self, redis: Redis, prefix: str, secret_key: str):
        self.redis = redis
        self.key = f"{prefix}:access-keys"
        self.generation_key = f"{prefix}:access-keys:generation"
        self._box = SecretBox(secret_key) if secret_key else None
        self._url_key = derived_key(secret_key, b"faas download urls") if secret_key else None
        self._found: dict[str, Found] = {}
        self._nonces = NonceBook(redis, self.generation_key, f"{prefix}:nonces:")

    def _sealer(self) -> SecretBox:
        if self._box is None:
            raise ServiceUnavailable("access keys need FAAS_SECRET_KEY (or FAAS_SECRET_KEY_FILE), which this "
                                     "control plane was started without")
        return self._box

    def url_signature(self, resource: str, expires: int) -> str:
        """The signature of a download URL of `resource` good until `expires` (seconds since the epoch): what FC's
        GetFunctionCode answers is such a URL, usable without a key, as FC's presigned OSS URLs are."""
        if self._url_key is None:
            raise ServiceUnavailable("download URLs need FAAS_SECRET_KEY (or FAAS_SECRET_KEY_FILE), which this "
                                     "control plane was started without")
        return hmac.new(self._url_key, f"{resource}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url_signed(self, resource: str, expires: str, signature: str, now: float) -> bool:
        """Whether a download URL's `expires` and `signature` are this platform's for `resource`, and current."""
        if self._url_key is None or not expires.isascii() or not expires.isdigit() or len(expires) > 12 \
                or int(expires) < now:
            return False
        return hmac.compare_digest(self.url_signature(resource, int(expires)), signature)

    async def create(self, role: object, name: object) -> tuple[Token, str]:
        """A new key (its record, with the key id as its id) and its secret, which is never shown again."""
        role, name = checked_role_and_name(role, name)
        box = self._sealer()
        key_id = new_key_id()
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
        key = Token(id=key_id, role=role, name=name, created_at=time.time())
        await self.redis.hset(self.key, key_id, json.dumps(key.to_api() | {"sealed": box.seal(key_id, secret)}))
        return key, secret

    async def list(self) -> list[Token]:
        raw = await self.redis.hvals(self.key)
        return sorted((Token.from_api(json.loads(v)) for v in raw), key=lambda k: k.created_at)

    async def revoke(self, key_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, key_id)
            pipe.incr(self.generation_key)
            deleted, _ = await pipe.execute()
        self._found.pop(key_id, None)
        if not deleted:
            raise AccessKeyNotFound(f"no access key {key_id}")

    def cached(self, key_id: str) -> Found | None:
        """The key as this control plane last read it, if it has (no round trip: a signed request's first look)."""
        return self._found.get(key_id)

    async def lookup(self, key_id: str, fresh: bool = False) -> Found | None:
        """The key, its secret and the generation it was read at (from this control plane's records unless
        `fresh`); None when there is no such key (or it was sealed under another FAAS_SECRET_KEY)."""
        if self._box is None or not KEY_ID_RE.fullmatch(key_id):
            return None
        if not fresh and (found := self._found.get(key_id)) is not None:
            return found
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self.generation_key)
            pipe.hget(self.key, key_id)
            generation, raw = await pipe.execute()
        if raw is None:
            self._found.pop(key_id, None)
            return None
        data = json.loads(raw)
        secret = self._box.open(key_id, data["sealed"])
        if secret is None:
            return None
        if len(self._found) >= _FOUND_MAX:
            self._found.clear()
        found = self._found[key_id] = Found(Token.from_api(data), secret, generation or b"0")
        return found

    def admit(self, claim: Claim) -> Awaitable[tuple[bool, bytes]]:
        """(whether this is the first use of the claim's nonce with its key, the keys' generation now). A
        nonce is remembered per second of the request's date, until that date is too old to be accepted."""
        return self._nonces.admit(int(claim.signed_at.timestamp()), f"{claim.key_id} {claim.nonce}" if claim.nonce
                                  else "")
