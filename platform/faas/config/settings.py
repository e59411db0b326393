"""The Settings dataclass: each field declared once (variable, type, default, range, meaning), read and checked
by from_env, and printed as the README's table by `python -m faas.config --markdown`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .. import defaults
from . import readers
from .fields import (
    Env,
    Setting,
    Variable,
    as_integer,
    choice,
    declare,
    integer,
    matching,
    megabytes,
    number,
    path,
    setting_of,
    text,
)
from .validators import PLATFORM_ID_RE, is_node_id, parse_address, parse_sentinels

REPO_ROOT = Path(__file__).resolve().parents[3]
ROLES = ("all", "frontend", "node")
_EVERY_ADDRESS = ("0.0.0.0", "::", "")
_DAY = 86400
_YEAR = 365 * _DAY


def _absolute(var: str, value: Any) -> None:
    if value is not None and not value.is_absolute():
        raise ValueError(f"{var} must be an absolute path")


def _address(var: str, value: Any) -> None:
    if value:
        parse_address(var, value)


def _node_id(var: str, value: Any) -> None:
    if not is_node_id(value):
        raise ValueError(f"{var} must be 1-63 lower-case letters, digits, '.' or '-' (it is the host name when unset)")


def _memory_mb(var: str, text: str) -> int:
    return as_integer(var, text) or readers.host_memory_budget()


def _sentinels(var: str, text: str) -> tuple[tuple[str, int], ...]:
    return parse_sentinels(text)


def _ca_bundle(var: str, text: str) -> Path | None:
    return Path(text) if text else None  # set but empty: builds use the image's own CAs


@dataclass(frozen=True)
class Settings:
    """Every setting of a process. Made with Settings(...), as tests do, nothing is checked."""

    # -- the API
    port: int = integer("FAAS_PORT", defaults.PORT, 1, 65535, "port the API listens on")
    host: str = text("FAAS_HOST", defaults.HOST, "address the API listens on (`0.0.0.0`: every address)")
    keepalive_timeout: float = number(
        "FAAS_KEEPALIVE_TIMEOUT", defaults.KEEPALIVE_TIMEOUT_S, 0.1, _DAY,
        "seconds a client connection may stay silent (no request, or headers not finished) before the API closes it")
    api_token: str = declare(
        "FAAS_API_TOKEN", "", "the operator's admin token (tokens made through the API live in Redis)",
        shown="`var/api-token`, made by `scripts/up`", unset=readers.api_token_file,
        also=(Variable("FAAS_API_TOKEN_FILE", "none", "a file holding the admin token (a compose secret, "
                       "`/etc/faas/api-token`); used when `FAAS_API_TOKEN` is unset"),))
    secret_key: str = declare(
        "FAAS_SECRET_KEY", "", "the key access-key secrets are encrypted under in Redis (16-256 printable characters; "
        "every control plane needs the same); without it no access key can be made or used",
        shown="`var/secret-key`, made by `scripts/up`", unset=readers.secret_key_file,
        check=matching(re.compile(r"(?:[\x21-\x7e]{16,256})?"), "16-256 printable characters, without spaces"),
        also=(Variable("FAAS_SECRET_KEY_FILE", "none", "a file holding that key (0600; a compose secret); used when "
                       "`FAAS_SECRET_KEY` is unset"),))
    client_token: str = declare("FAAS_TOKEN", "", "the token workers and `faasctl` send",
                                shown="`FAAS_API_TOKEN`", unset=readers.api_token)
    control_url: str = text("FAAS_CONTROL_URL", "", "where workers reach the control plane",
                            shown="`http://127.0.0.1:$FAAS_PORT`")

    # -- Redis
    redis_url: str = declare(
        "FAAS_REDIS_URL", defaults.REDIS_URL, "Redis of the registry", reader=readers.redis_url,
        shown="a private redis-server started by `scripts/up`, through its Unix socket",
        also=(Variable("FAAS_REDIS_PASSWORD_FILE", "`var/redis-password` with `scripts/up`", "a file holding "
                       "Redis' password (a compose or systemd secret), put into `FAAS_REDIS_URL` when that has none"),))
    redis_prefix: str = text("FAAS_REDIS_PREFIX", defaults.REDIS_PREFIX, "prefix of every Redis key")
    redis_sentinels: tuple[tuple[str, int], ...] = declare(
        "FAAS_REDIS_SENTINELS", (), "`host:port,...` of Redis Sentinels: every part then asks them for the primary of "
        "`FAAS_REDIS_SERVICE` and follows a failover by itself (`FAAS_REDIS_URL` still gives the password, user and "
        "database; its address is not used)", parse=_sentinels)
    redis_service: str = text("FAAS_REDIS_SERVICE", defaults.REDIS_SERVICE,
                              "the primary's name in the Sentinels' `sentinel monitor` line",
                              check=matching(re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
                                             "1-64 letters, digits, '.', '_' or '-'"))
    redis_min_replicas: int = integer(
        "FAAS_REDIS_MIN_REPLICAS", 0, 0, 16, "replicas that must hold an accepted async event or a published "
        "message before the API acknowledges it (Redis `WAIT`, 1 s at most, else 503 `ServiceUnavailable` and the "
        "caller retries): with Sentinel, 1 keeps what a failover to a replica would otherwise lose")

    # -- Docker, images and builds
    platform_id: str = text(
        "FAAS_PLATFORM_ID", "default", "label value on this platform's containers and images (several platforms can "
        "share an engine)",
        check=matching(PLATFORM_ID_RE, "1-32 lower-case letters, digits or '-' (used in image tags)"))
    docker_url: str | None = declare("DOCKER_HOST", None, "the Docker engine the platform drives",
                                     shown="the engine's local socket")
    docker_threads: int = integer("FAAS_DOCKER_THREADS", defaults.DOCKER_THREADS, 1, 256,
                                  "threads for blocking Docker calls")
    base_image: str | None = declare(
        "FAAS_BASE_IMAGE", None, "base of the default runtime's image (`python3.11`; `python3.13`'s is "
        "`python:3.13-slim` or the local trixie build)",
        shown="`python:3.11-slim` if present or pullable, else the local debootstrap build")
    images_dir: Path = path("FAAS_IMAGES_DIR", REPO_ROOT / "images", "where the runtime image's sources are "
                            "(`/opt/faas/images` in the deployed image)", shown="`images/` of the checkout")
    build_ca_bundle: Path | None = declare(
        "FAAS_BUILD_CA_BUNDLE", None, "CA bundle pip trusts in builds (empty: the image's own)",
        shown="the host's `/etc/ssl/certs/ca-certificates.crt`", parse=_ca_bundle, unset=readers.host_ca_bundle,
        blank_is_unset=False)
    build_concurrency: int = integer("FAAS_BUILD_CONCURRENCY", defaults.BUILD_CONCURRENCY, 1, 64,
                                     "image builds at once")
    network: str = text("FAAS_NETWORK", defaults.NETWORK,
                        "bridge network of function containers (no traffic between containers)")
    sandbox: str = choice("FAAS_SANDBOX", defaults.SANDBOX, list(defaults.SANDBOXES),
                          "the sandbox of a function that names none (see the security model)")

    # -- the container pool
    reaper_interval: float = number("FAAS_REAPER_INTERVAL", defaults.REAPER_INTERVAL_S, 0.01, 3600,
                                    "seconds between maintenance passes (reclaim, pause, reserved)")
    health_interval: float = number("FAAS_HEALTH_INTERVAL", defaults.HEALTH_INTERVAL_S, 0.01, 3600,
                                    "seconds between health passes (what Docker's events missed, network, mounts)")
    prewarm_min_gap: float = number("FAAS_PREWARM_MIN_GAP", defaults.PREWARM_MIN_GAP_S, 0, 86400,
                                    "the adaptive keep-alive policy releases a container and pre-warms one later "
                                    "only when the pre-warm is at least this many seconds after the call")
    ready_timeout: float = number("FAAS_READY_TIMEOUT", defaults.READY_TIMEOUT_S, 0.1, 3600,
                                  "seconds a new container has to listen on its port")
    host_memory_mb: int = integer(
        "FAAS_HOST_MEMORY_MB", 0, 0, 1 << 24, "budget for the sum of `memoryMB` of all function containers "
        "(0: the default)", shown="75% of the host's memory", parse=_memory_mb, unset=readers.host_memory_budget)
    queue_length: int = integer("FAAS_QUEUE_LENGTH", defaults.QUEUE_LENGTH, 0, 100_000,
                                "requests that may wait for a container, per function")
    queue_timeout: float = number("FAAS_QUEUE_TIMEOUT", defaults.QUEUE_TIMEOUT_S, 0, 3600,
                                  "seconds a request waits for a container before 429")
    max_concurrent_starts: int = integer("FAAS_MAX_CONCURRENT_STARTS", defaults.MAX_CONCURRENT_STARTS, 1, 256,
                                         "containers starting at once on the host (from images; a cell's "
                                         "specialisation takes no slot)")
    cells_min: int = integer("FAAS_CELLS_MIN", defaults.CELLS_MIN, 0, 256, "cells kept ready for the default memory "
                             "class, and for any class with a recent cold start (see the container pool)")
    cells_max: int = integer("FAAS_CELLS_MAX", defaults.CELLS_MAX, 0, 256,
                             "most cells kept ready per memory class; 0 turns cells off")
    cells_dir: Path = path("FAAS_CELLS_DIR", Path(defaults.CELLS_DIR), "cells' code directories and the unpacked "
                           "files of function images (a directory per platform id)")
    cells_placement: str = choice("FAAS_CELLS_PLACEMENT", "auto", ("auto", "mount", "link"), "how code reaches a "
                                  "cell: `mount` (a propagated read-only mount; needs root), `link` (hard links), "
                                  "`auto` (mount when permitted)")
    registry_cache: float = number("FAAS_REGISTRY_CACHE", defaults.REGISTRY_CACHE_S, 0, 3600,
                                   "seconds an invocation reuses a function record read from Redis")
    socket_dir: Path | None = path(
        "FAAS_SOCKET_DIR", None, "a host directory with one directory per container, mounted into it at "
        "`/run/faas-socket`, where its runtime's Unix socket is; for a pool that does not see the host's processes "
        "(under Swarm, which gives no `pid: host`). Unset: the socket is reached through `/proc/<pid>/root`",
        check=_absolute)

    # -- queues
    queue_max_messages: int = integer("FAAS_QUEUE_MAX_MESSAGES", defaults.QUEUE_MAX_MESSAGES, 1, 10**9, "messages "
                                      "one queue (`queue:<name>`) holds; publishing past it is refused (429)")
    queue_max_bytes: int = megabytes("FAAS_QUEUE_MAX_MB", defaults.QUEUE_MAX_MB,
                                     "memory one queue takes in Redis, in MB; publishing past it is refused (429)")
    queues_max_bytes: int = megabytes("FAAS_QUEUES_MAX_MB", defaults.QUEUES_MAX_MB, "memory all queues together "
                                      "take in Redis, in MB; publishing past it is refused (429)")

    # -- async invocations
    workers: int = integer("FAAS_WORKERS", defaults.WORKERS, 1, 256,
                           "async worker processes (`faas-worker`, started by `scripts/up`)")
    worker_concurrency: int = integer("FAAS_WORKER_CONCURRENCY", defaults.WORKER_CONCURRENCY, 1, 1024,
                                      "events one worker process runs at once")
    worker_lease: float = number("FAAS_WORKER_LEASE", defaults.WORKER_LEASE_S, 0.1, 3600,
                                 "seconds a worker's hold on its events lasts without a heartbeat")
    function_retry_base: float = number("FAAS_FUNCTION_RETRY_BASE", defaults.FUNCTION_RETRY_BASE_S, 0.01, 3600,
                                        "first wait before retrying a function error (doubles each time)")
    system_retry_initial: float = number("FAAS_SYSTEM_RETRY_INITIAL", defaults.SYSTEM_RETRY_INITIAL_S, 0.01, 3600,
                                         "first wait between system retries")
    system_retry_max_wait: float = number("FAAS_SYSTEM_RETRY_MAX_WAIT", defaults.SYSTEM_RETRY_MAX_WAIT_S, 0.01, _DAY,
                                          "longest wait between system retries")
    result_ttl: int = integer("FAAS_RESULT_TTL", defaults.RESULT_TTL_S, 1, _YEAR,
                              "seconds an ended async invocation's record is kept")
    sweep_interval: float = number("FAAS_SWEEP_INTERVAL", defaults.SWEEP_INTERVAL_S, 0.01, 3600,
                                   "seconds between sweeper passes (due retries, idle workers woken)")
    audit_interval: float = number("FAAS_AUDIT_INTERVAL", defaults.AUDIT_INTERVAL_S, 0.01, _DAY,
                                   "seconds between audits for events a crash lost")

    # -- logs
    log_ttl: int = integer("FAAS_LOG_TTL", defaults.LOG_TTL_S, 1, _YEAR,
                           "seconds invocation and function logs are kept")
    log_max_bytes: int = megabytes("FAAS_LOG_MAX_MB", defaults.LOG_MAX_MB, "most memory all logs take in Redis, in MB")
    log_function_bytes: int = megabytes("FAAS_LOG_FUNCTION_MB", defaults.LOG_FUNCTION_MB,
                                        "most memory one function's logs take in Redis, in MB")
    log_follow_s: float = number("FAAS_LOG_FOLLOW_SECONDS", defaults.LOG_FOLLOW_S, 0.1, _DAY, "longest a `follow` "
                                 "stream of function logs stays open (`faasctl logs -f` asks again)")

    # -- several hosts
    role: str = choice("FAAS_ROLE", "all", ROLES, "`all`: one process is the API and the pool of this host's "
                       "engine; `frontend`: the API, routing invocations to nodes; `node`: a node agent "
                       "(`faas-node`). See \"Past one host\"")
    node_token: str = declare(
        "FAAS_NODE_TOKEN", "", "the secret front ends and nodes share (16-256 printable characters); needed by both "
        "roles", unset=readers.node_token_file,
        check=matching(re.compile(r"(?:[\x21-\x7e]{16,256})?"), "16-256 printable characters, without spaces"),
        also=(Variable("FAAS_NODE_TOKEN_FILE", "none", "a file holding the node token; used when `FAAS_NODE_TOKEN` "
                       "is unset"),))
    node_id: str = declare("FAAS_NODE_ID", "", "a node's name (lower-case letters, digits, `.`, `-`)",
                           shown="the host name", unset=readers.host_name, check=_node_id)
    node_address: str = text("FAAS_NODE_ADDRESS", "", "`host:port` where front ends reach a node (required when it "
                             "listens on every address)", shown="`FAAS_HOST:FAAS_PORT`", check=_address)
    registry: str = text("FAAS_REGISTRY", "", "`host:port` of a registry: function images are pushed there at build "
                         "and nodes pull them; none: front ends send images to nodes with `docker save` / "
                         "`docker load`", check=_address)
    image_copies: int = integer("FAAS_IMAGE_COPIES", defaults.IMAGE_COPIES, 1, 16, "nodes that take a function "
                                "version (and its image) when it is deployed: the top of its ranking")

    @property
    def redis_url_shown(self) -> str:
        """The Redis URL without its password, for logs."""
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        return urlunsplit(parts._replace(netloc=":***@" + parts.netloc.rpartition("@")[2]))

    @property
    def control_plane_url(self) -> str:
        if self.control_url:
            return self.control_url.rstrip("/")
        host = "127.0.0.1" if self.host in _EVERY_ADDRESS else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Env | None = None, **overrides: Any) -> Settings:
        """Every setting from `env` (os.environ by default), then `overrides` (values, not text); ValueError,
        naming the variable, for a value out of its range or a pair of values that do not go together."""
        env = os.environ if env is None else env
        declared = declarations()
        values = {name: setting.read(env) for name, setting in declared.items()}
        for name, value in overrides.items():
            if name in declared:  # (an unknown name is a TypeError below)
                declared[name].verify(value)
        values.update(overrides)
        _check_together(values)
        return cls(**values)


def declarations() -> dict[str, Setting]:
    """Each field of Settings with its declaration, in the order of the class."""
    return {f.name: setting_of(f) for f in fields(Settings)}


def _check_together(values: dict[str, Any]) -> None:
    """The checks of several settings at once, and the node address a node takes by default."""
    if values["cells_max"] and values["cells_min"] > values["cells_max"]:
        raise ValueError("FAAS_CELLS_MIN and FAAS_CELLS_MAX must satisfy 0 <= MIN <= MAX <= 256 "
                         "(MAX 0 turns cells off)")
    if values["role"] != "all" and not values["node_token"]:
        raise ValueError(f"FAAS_ROLE={values['role']} needs FAAS_NODE_TOKEN or FAAS_NODE_TOKEN_FILE")
    if not values["node_address"] and values["role"] == "node" and values["host"] not in _EVERY_ADDRESS:
        values["node_address"] = f"{values['host']}:{values['port']}"  # (on every address: faas-node finds it)
    if values["queues_max_bytes"] < values["queue_max_bytes"]:
        raise ValueError("FAAS_QUEUES_MAX_MB must be at least FAAS_QUEUE_MAX_MB")
