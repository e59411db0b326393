"""Settings that are more than their variable's text: secrets in files, the Redis URL with its password, and
defaults that come from the host (its name, its memory, its CA bundle)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .. import defaults
from .fields import Env


def secret(env: Env, name: str) -> str:
    """The first line of the file the variable `name` names (a 0600 file, a compose or systemd secret);
    "" when the variable is unset."""
    path = env.get(name)
    if not path:
        return ""
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc.strerror}") from None
    if not secret:
        raise ValueError(f"{name}: {path} is empty")
    return secret


def api_token_file(env: Env) -> str:
    return secret(env, "FAAS_API_TOKEN_FILE")


def api_token(env: Env) -> str:
    """FAAS_API_TOKEN, else the first line of the file FAAS_API_TOKEN_FILE names (a compose or systemd secret)."""
    return env.get("FAAS_API_TOKEN") or api_token_file(env)


def secret_key_file(env: Env) -> str:
    return secret(env, "FAAS_SECRET_KEY_FILE")


def node_token_file(env: Env) -> str:
    return secret(env, "FAAS_NODE_TOKEN_FILE")


def redis_url(env: Env) -> str:
    """FAAS_REDIS_URL, with the password of FAAS_REDIS_PASSWORD_FILE put in when the URL has none: the
    password never needs to be in an environment or a command line."""
    url = env.get("FAAS_REDIS_URL") or defaults.REDIS_URL
    password = secret(env, "FAAS_REDIS_PASSWORD_FILE")
    parts = urlsplit(url)
    if not password or parts.password or "@" in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f":{quote(password, safe='')}@{parts.netloc}"))


def host_name(env: Env) -> str:
    return socket.gethostname().lower()


def host_memory_budget(env: Env | None = None) -> int:
    """A share (HOST_MEMORY_FRACTION) of the host's memory, in MB."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        total_mb = 4096
    return int(total_mb * defaults.HOST_MEMORY_FRACTION)


def host_ca_bundle(env: Env) -> Path | None:
    """The host's CA bundle, when it has one."""
    default = Path(defaults.HOST_CA_BUNDLE)
    return default if default.is_file() else None
