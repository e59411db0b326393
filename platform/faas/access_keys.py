"""Access keys: an id and a secret that sign requests (Function Compute's surfaces), with the two roles of
API tokens.

HMAC needs the secret itself on the verifying side, so Redis keeps it encrypted (AES-GCM, under a key
derived from FAAS_SECRET_KEY, with the key id as associated data: a sealed secret moved to another id does
not open). Nothing about a key is cached but the decryption of its sealed secret: each signed request reads
the key's record, so a revoked key stops working at once on every control plane. Nonces of FC 3.0 requests
are remembered, per second of their date, for as long as that date is accepted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from .auth import Role, Token, checked_role_and_name
from .errors import AccessKeyNotFound, ServiceUnavailable
from .signing import MAX_SKEW_S, Claim

KEY_ID_RE = re.compile(r"FK[A-Z0-9]{18}")
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 30
"""As Function Compute's own secrets: 30 letters and digits."""
_OPENED_MAX = 10_000


def new_key_id() -> str:
    return "FK" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(18))


class SecretBox:
    """Seals secrets under the platform's key (AES-256-GCM; a fresh 96-bit nonce for each)."""

    def __init__(self, key_material: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"faas access-key secrets").derive(key_material.encode())
        self._aead = AESGCM(key)

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


class AccessKeyStore:
    """Access keys in Redis: `{prefix}:access-keys` maps each id to its record and sealed secret."""

    def __init__(self, redis: Redis, prefix: str, secret_key: str):
        self.redis = redis
        self.key = f"{prefix}:access-keys"
        self.nonces = f"{prefix}:nonces:"
        self._box = SecretBox(secret_key) if secret_key else None
        self._opened: dict[str, str] = {}
        """Sealed secret -> secret: a key's record is read on every request, its secret decrypted once."""

    def _sealer(self) -> SecretBox:
        if self._box is None:
            raise ServiceUnavailable("access keys need FAAS_SECRET_KEY (or FAAS_SECRET_KEY_FILE), which this "
                                     "control plane was started without")
        return self._box

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
        return sorted((_record(json.loads(v)) for v in raw), key=lambda k: k.created_at)

    async def revoke(self, key_id: str) -> None:
        if not await self.redis.hdel(self.key, key_id):
            raise AccessKeyNotFound(f"no access key {key_id}")

    async def lookup(self, key_id: str) -> tuple[Token, str] | None:
        """The key and its secret; None when there is no such key (or it was sealed under another key)."""
        if self._box is None or not KEY_ID_RE.fullmatch(key_id):
            return None
        raw = await self.redis.hget(self.key, key_id)
        if raw is None:
            return None
        data = json.loads(raw)
        sealed = data["sealed"]
        secret = self._opened.get(sealed)
        if secret is None:
            secret = self._box.open(key_id, sealed)
            if secret is None:
                return None
            if len(self._opened) >= _OPENED_MAX:
                self._opened.clear()
            self._opened[sealed] = secret
        return _record(data), secret

    async def first_use_of(self, claim: Claim) -> bool:
        """True the first time a nonce comes with this key; False for a replay. Remembered per second of the
        request's date, until that date is too old to be accepted at all."""
        second = int(claim.signed_at.timestamp())
        bucket = f"{self.nonces}{second}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(bucket, f"{claim.key_id} {claim.nonce}")
            pipe.expireat(bucket, second + MAX_SKEW_S + 5)
            added, _ = await pipe.execute()
        return bool(added)


def _record(data: dict) -> Token:
    return Token(id=data["id"], role=Role(data["role"]), name=data["name"], created_at=data["createdAt"])
