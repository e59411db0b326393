"""The Settings dataclass and how each field is read from the environment."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .. import defaults
from .validators import PLATFORM_ID_RE, is_node_id, parse_address, parse_sentinels

REPO_ROOT = Path(__file__).resolve().parents[3]


def _megabytes(env, name: str, default: int) -> int:
    """The variable `name`, in MB (a fraction is fine), as bytes: from 1 MB to 1 TB."""
    value = _number(env, name, default, float)
    if not 1 <= value <= 1 << 20:  # (NaN fails too)
        raise ValueError(f"{name} must be at least 1 and at most 1048576 (MB), not {env.get(name)!r}")
    return int(value * (1 << 20))


def _number(env, name, default, kind=int):
    """The variable `name` as an int (or `kind`), `default` when unset or empty."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {raw!r}") from None


def _ca_bundle(env) -> Path | None:
    raw = env.get("FAAS_BUILD_CA_BUNDLE")
    if raw is not None:
        return Path(raw) if raw else None  # set but empty: builds use the image's own CAs
    default = Path(defaults.HOST_CA_BUNDLE)
    return default if default.is_file() else None


def _host_memory_budget() -> int:
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        total_mb = 4096
    return int(total_mb * defaults.HOST_MEMORY_FRACTION)


def _secret(env, name: str) -> str:
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


def _redis_url(env) -> str:
    """FAAS_REDIS_URL, with the password of FAAS_REDIS_PASSWORD_FILE put in when the URL has none: the
    password never needs to be in an environment or a command line."""
    url = env.get("FAAS_REDIS_URL") or Settings.redis_url
    password = _secret(env, "FAAS_REDIS_PASSWORD_FILE")
    parts = urlsplit(url)
    if not password or parts.password or "@" in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f":{quote(password, safe='')}@{parts.netloc}"))


def _sentinels(env) -> tuple[tuple[str, int], ...]:
    raw = env.get("FAAS_REDIS_SENTINELS", "")
    return parse_sentinels(raw) if raw else ()


def _service(env) -> str:
    name = env.get("FAAS_REDIS_SERVICE", defaults.REDIS_SERVICE)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise ValueError("FAAS_REDIS_SERVICE must be 1-64 letters, digits, '.', '_' or '-'")
    return name


ROLES = ("all", "frontend", "node")


def _node_id(env) -> str:
    raw = env.get("FAAS_NODE_ID") or socket.gethostname().lower()
    if not is_node_id(raw):
        raise ValueError("FAAS_NODE_ID must be 1-63 lower-case letters, digits, '.' or '-' (it is the host name "
                         "when unset)")
    return raw


def _node_token(env) -> str:
    """FAAS_NODE_TOKEN, else the first line of the file FAAS_NODE_TOKEN_FILE names."""
    token = env.get("FAAS_NODE_TOKEN") or _secret(env, "FAAS_NODE_TOKEN_FILE")
    if token and not re.fullmatch(r"[\x21-\x7e]{16,256}", token):
        raise ValueError("the node token must be 16-256 printable characters, without spaces")
    return token


def _api_token(env) -> str:
    """FAAS_API_TOKEN, else the first line of the file FAAS_API_TOKEN_FILE names (a compose or systemd secret)."""
    return env.get("FAAS_API_TOKEN") or _secret(env, "FAAS_API_TOKEN_FILE")


@dataclass(frozen=True)
class Settings:
    host: str = defaults.HOST
    port: int = defaults.PORT
    keepalive_timeout: float = defaults.KEEPALIVE_TIMEOUT_S
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = defaults.REDIS_PREFIX
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    """Redis Sentinels to ask for the primary (FAAS_REDIS_SENTINELS, host:port,...); none: FAAS_REDIS_URL's server."""
    redis_service: str = defaults.REDIS_SERVICE
    """The primary's name in the Sentinels' configuration (FAAS_REDIS_SERVICE)."""
    redis_min_replicas: int = 0
    """Replicas that must hold an accepted async event before the API acknowledges it (FAAS_REDIS_MIN_REPLICAS):
    with Sentinel, 1 keeps an event that a failover would otherwise lose."""
    platform_id: str = "default"
    """Label value that marks this platform's containers and images; lets several platforms share an engine."""
    docker_url: str | None = None
    docker_threads: int = defaults.DOCKER_THREADS
    base_image: str | None = None
    """Base image for the runtime image; unset means python:3.11-slim if present, else the local build."""
    images_dir: Path = REPO_ROOT / "images"
    network: str = defaults.NETWORK
    build_concurrency: int = defaults.BUILD_CONCURRENCY
    reaper_interval: float = defaults.REAPER_INTERVAL_S
    ready_timeout: float = defaults.READY_TIMEOUT_S
    health_interval: float = defaults.HEALTH_INTERVAL_S
    queue_timeout: float = defaults.QUEUE_TIMEOUT_S
    queue_length: int = defaults.QUEUE_LENGTH
    max_concurrent_starts: int = defaults.MAX_CONCURRENT_STARTS
    cells_min: int = defaults.CELLS_MIN
    """Cells kept ready for the default memory class, and for any class with recent cold starts."""
    cells_max: int = defaults.CELLS_MAX
    """Most cells kept ready per memory class; 0 turns cells off (every container starts from its image)."""
    cells_dir: Path = Path(defaults.CELLS_DIR)
    cells_placement: str = "auto"
    """How code reaches a cell: `mount` (propagated, read-only), `link` (hard links), `auto` (mount if permitted)."""
    host_memory_mb: int = 0
    """Budget of memoryMB for all function containers (FAAS_HOST_MEMORY_MB); 0 means a share of the host's."""
    registry_cache: float = defaults.REGISTRY_CACHE_S
    workers: int = defaults.WORKERS
    worker_concurrency: int = defaults.WORKER_CONCURRENCY
    worker_lease: float = defaults.WORKER_LEASE_S
    function_retry_base: float = defaults.FUNCTION_RETRY_BASE_S
    system_retry_initial: float = defaults.SYSTEM_RETRY_INITIAL_S
    system_retry_max_wait: float = defaults.SYSTEM_RETRY_MAX_WAIT_S
    result_ttl: int = defaults.RESULT_TTL_S
    sweep_interval: float = defaults.SWEEP_INTERVAL_S
    sandbox: str = defaults.SANDBOX
    """The sandbox of a function that names none (FAAS_SANDBOX: runc or gvisor)."""
    queue_max_messages: int = defaults.QUEUE_MAX_MESSAGES
    queue_max_bytes: int = defaults.QUEUE_MAX_MB << 20
    queues_max_bytes: int = defaults.QUEUES_MAX_MB << 20
    audit_interval: float = defaults.AUDIT_INTERVAL_S
    log_ttl: int = defaults.LOG_TTL_S
    log_follow_s: float = defaults.LOG_FOLLOW_S
    log_max_bytes: int = defaults.LOG_MAX_MB << 20
    log_function_bytes: int = defaults.LOG_FUNCTION_MB << 20
    api_token: str = ""
    """The admin token given by the operator (FAAS_API_TOKEN); tokens made through the API live in Redis."""
    client_token: str = ""
    """The token workers and the CLI send (FAAS_TOKEN, else FAAS_API_TOKEN)."""
    control_url: str = ""
    """Where workers reach the control plane; empty: http://127.0.0.1:<port>."""
    role: str = "all"
    """What this process is (FAAS_ROLE): `all` (the API and the pool, one host), `frontend` (the API, routing
    invocations to node agents) or `node` (a node agent: the pool of this host's Docker engine)."""
    node_id: str = ""
    """This node's name among the nodes (FAAS_NODE_ID; the host name by default)."""
    node_address: str = ""
    """host:port where front ends reach this node (FAAS_NODE_ADDRESS; FAAS_HOST:FAAS_PORT by default)."""
    node_token: str = ""
    """The secret front ends and nodes share (FAAS_NODE_TOKEN or FAAS_NODE_TOKEN_FILE)."""
    registry: str = ""
    """host:port of a registry function images are pushed to at build and pulled from by nodes
    (FAAS_REGISTRY); none: images go to nodes by docker save | docker load."""
    image_copies: int = defaults.IMAGE_COPIES
    socket_dir: Path | None = None
    """A host directory that holds one directory per container, mounted into it, where its runtime's Unix
    socket is reached (FAAS_SOCKET_DIR): for a control plane or node that does not see the host's processes
    (no `pid: host`, as under Docker Swarm). Unset: the socket is reached through /proc/<pid>/root."""

    @property
    def redis_url_shown(self) -> str:
        """The Redis URL without its password, for logs."""
        parts = urlsplit(self.redis_url)
        if parts.password is None:
            return self.redis_url
        return urlunsplit(parts._replace(netloc=f":***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))

    @property
    def control_plane_url(self) -> str:
        if self.control_url:
            return self.control_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
    build_ca_bundle: Path | None = None
    """CA bundle that pip trusts in builds; the host's by default, for networks that intercept TLS."""

    @classmethod
    def from_env(cls, env=None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        api_token = _api_token(env)
        values = dict(
            host=env.get("FAAS_HOST", defaults.HOST),
            port=_number(env, "FAAS_PORT", defaults.PORT),
            keepalive_timeout=_number(env, "FAAS_KEEPALIVE_TIMEOUT", defaults.KEEPALIVE_TIMEOUT_S, float),
            redis_url=_redis_url(env),
            redis_prefix=env.get("FAAS_REDIS_PREFIX", defaults.REDIS_PREFIX),
            redis_sentinels=_sentinels(env),
            redis_service=_service(env),
            redis_min_replicas=_number(env, "FAAS_REDIS_MIN_REPLICAS", 0),
            platform_id=env.get("FAAS_PLATFORM_ID", "default"),
            docker_url=env.get("DOCKER_HOST") or None,
            docker_threads=_number(env, "FAAS_DOCKER_THREADS", defaults.DOCKER_THREADS),
            base_image=env.get("FAAS_BASE_IMAGE") or None,
            images_dir=Path(env.get("FAAS_IMAGES_DIR", REPO_ROOT / "images")),
            network=env.get("FAAS_NETWORK", defaults.NETWORK),
            build_concurrency=_number(env, "FAAS_BUILD_CONCURRENCY", defaults.BUILD_CONCURRENCY),
            reaper_interval=_number(env, "FAAS_REAPER_INTERVAL", defaults.REAPER_INTERVAL_S, float),
            ready_timeout=_number(env, "FAAS_READY_TIMEOUT", defaults.READY_TIMEOUT_S, float),
            build_ca_bundle=_ca_bundle(env),
            health_interval=_number(env, "FAAS_HEALTH_INTERVAL", defaults.HEALTH_INTERVAL_S, float),
            queue_timeout=_number(env, "FAAS_QUEUE_TIMEOUT", defaults.QUEUE_TIMEOUT_S, float),
            queue_length=_number(env, "FAAS_QUEUE_LENGTH", defaults.QUEUE_LENGTH),
            max_concurrent_starts=_number(env, "FAAS_MAX_CONCURRENT_STARTS", defaults.MAX_CONCURRENT_STARTS),
            cells_min=_number(env, "FAAS_CELLS_MIN", defaults.CELLS_MIN),
            cells_max=_number(env, "FAAS_CELLS_MAX", defaults.CELLS_MAX),
            cells_dir=Path(env.get("FAAS_CELLS_DIR") or defaults.CELLS_DIR),
            cells_placement=env.get("FAAS_CELLS_PLACEMENT") or "auto",
            host_memory_mb=_number(env, "FAAS_HOST_MEMORY_MB", 0) or _host_memory_budget(),
            registry_cache=_number(env, "FAAS_REGISTRY_CACHE", defaults.REGISTRY_CACHE_S, float),
            workers=_number(env, "FAAS_WORKERS", defaults.WORKERS),
            worker_concurrency=_number(env, "FAAS_WORKER_CONCURRENCY", defaults.WORKER_CONCURRENCY),
            worker_lease=_number(env, "FAAS_WORKER_LEASE", defaults.WORKER_LEASE_S, float),
            function_retry_base=_number(env, "FAAS_FUNCTION_RETRY_BASE", defaults.FUNCTION_RETRY_BASE_S, float),
            system_retry_initial=_number(env, "FAAS_SYSTEM_RETRY_INITIAL", defaults.SYSTEM_RETRY_INITIAL_S, float),
            system_retry_max_wait=_number(env, "FAAS_SYSTEM_RETRY_MAX_WAIT", defaults.SYSTEM_RETRY_MAX_WAIT_S,
                                          float),
            result_ttl=_number(env, "FAAS_RESULT_TTL", defaults.RESULT_TTL_S),
            sweep_interval=_number(env, "FAAS_SWEEP_INTERVAL", defaults.SWEEP_INTERVAL_S, float),
            sandbox=env.get("FAAS_SANDBOX") or defaults.SANDBOX,
            queue_max_messages=_number(env, "FAAS_QUEUE_MAX_MESSAGES", defaults.QUEUE_MAX_MESSAGES),
            queue_max_bytes=_megabytes(env, "FAAS_QUEUE_MAX_MB", defaults.QUEUE_MAX_MB),
            queues_max_bytes=_megabytes(env, "FAAS_QUEUES_MAX_MB", defaults.QUEUES_MAX_MB),
            audit_interval=_number(env, "FAAS_AUDIT_INTERVAL", defaults.AUDIT_INTERVAL_S, float),
            control_url=env.get("FAAS_CONTROL_URL", ""),
            api_token=api_token,
            log_ttl=_number(env, "FAAS_LOG_TTL", defaults.LOG_TTL_S),
            log_follow_s=_number(env, "FAAS_LOG_FOLLOW_SECONDS", defaults.LOG_FOLLOW_S, float),
            log_max_bytes=int(_number(env, "FAAS_LOG_MAX_MB", defaults.LOG_MAX_MB, float) * (1 << 20)),
            log_function_bytes=int(_number(env, "FAAS_LOG_FUNCTION_MB", defaults.LOG_FUNCTION_MB, float) * (1 << 20)),
            client_token=env.get("FAAS_TOKEN") or api_token,
            role=env.get("FAAS_ROLE") or "all",
            node_id=_node_id(env),
            node_address=env.get("FAAS_NODE_ADDRESS", ""),
            node_token=_node_token(env),
            registry=env.get("FAAS_REGISTRY", ""),
            image_copies=_number(env, "FAAS_IMAGE_COPIES", defaults.IMAGE_COPIES),
            socket_dir=Path(env["FAAS_SOCKET_DIR"]) if env.get("FAAS_SOCKET_DIR") else None,
        )
        values.update(overrides)
        if values["cells_placement"] not in ("auto", "mount", "link"):
            raise ValueError("FAAS_CELLS_PLACEMENT must be auto, mount or link")
        low, high = values["cells_min"], values["cells_max"]
        if not (0 <= low and 0 <= high <= 256 and (high == 0 or low <= high)):
            raise ValueError("FAAS_CELLS_MIN and FAAS_CELLS_MAX must satisfy 0 <= MIN <= MAX <= 256 "
                             "(MAX 0 turns cells off)")
        if not 0 <= values["redis_min_replicas"] <= 16:
            raise ValueError("FAAS_REDIS_MIN_REPLICAS must be from 0 to 16")
        if values["role"] not in ROLES:
            raise ValueError("FAAS_ROLE must be all, frontend or node")
        if values["role"] != "all" and not values["node_token"]:
            raise ValueError(f"FAAS_ROLE={values['role']} needs FAAS_NODE_TOKEN or FAAS_NODE_TOKEN_FILE")
        if values["node_address"]:
            parse_address("FAAS_NODE_ADDRESS", values["node_address"])
        elif values["role"] == "node" and values["host"] not in ("0.0.0.0", "::", ""):
            values["node_address"] = f"{values['host']}:{values['port']}"  # (on every address: faas-node finds it)
        if values["registry"]:
            parse_address("FAAS_REGISTRY", values["registry"])
        if values["socket_dir"] is not None and not values["socket_dir"].is_absolute():
            raise ValueError("FAAS_SOCKET_DIR must be an absolute path")
        if values["sandbox"] not in defaults.SANDBOXES:
            raise ValueError(f"FAAS_SANDBOX must be one of {', '.join(defaults.SANDBOXES)}")
        if values["queue_max_messages"] < 1:
            raise ValueError("FAAS_QUEUE_MAX_MESSAGES must be at least 1")
        if values["queues_max_bytes"] < values["queue_max_bytes"]:
            raise ValueError("FAAS_QUEUES_MAX_MB must be at least FAAS_QUEUE_MAX_MB")
        if not 1 <= values["image_copies"] <= 16:
            raise ValueError("FAAS_IMAGE_COPIES must be from 1 to 16")
        if not PLATFORM_ID_RE.fullmatch(values["platform_id"]):
            raise ValueError("FAAS_PLATFORM_ID must be 1-32 lower-case letters, digits or '-' (used in image tags)")
        return cls(**values)
