"""The REST client faasctl uses: base URL and token from flags, the environment or var/api-token."""

from __future__ import annotations

import os
from pathlib import Path

import requests

DEFAULT_URL = "http://127.0.0.1:8080"


class PlatformError(Exception):
    """The platform answered with its error shape (or could not be reached): faasctl exits 2."""

    def __init__(self, status: int | None, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}


def find_token(explicit: str | None) -> str | None:
    """--token, else FAAS_TOKEN, else FAAS_API_TOKEN, else var/api-token of the project directory."""
    for value in (explicit, os.environ.get("FAAS_TOKEN"), os.environ.get("FAAS_API_TOKEN")):
        if value:
            return value
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base / "var" / "api-token"
        if candidate.is_file():
            try:
                return candidate.read_text().strip() or None
            except OSError:
                return None
    return None


class Client:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 600):
        self.base = (url or os.environ.get("FAAS_URL") or DEFAULT_URL).rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        token = find_token(token)
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        try:
            resp = self.http.request(method, self.base + path, **kw)
        except requests.RequestException as exc:
            raise PlatformError(None, "Unreachable", f"cannot reach the platform at {self.base}: {exc}") from None
        if resp.status_code not in ok:
            try:
                error = resp.json()["error"]
                raise PlatformError(resp.status_code, error.get("code", ""), error.get("message", ""), error)
            except (ValueError, KeyError, TypeError):
                raise PlatformError(resp.status_code, "HTTP", f"HTTP {resp.status_code}: {resp.text[:200]}") from None
        return resp

    def json(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kw):
        return self.call(method, path, ok, **kw).json()
