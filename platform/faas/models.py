"""Value objects of the platform. A FunctionSpec that exists is valid: nothing downstream checks it again."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from . import defaults
from .errors import InvalidArgument

_NAME_RE = re.compile(defaults.NAME_PATTERN)
_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEST_RE = re.compile(r"^(queue|function):([a-z][a-z0-9-]{0,62})$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")
_RESERVED_ENV_PREFIXES = ("FC_", "FAAS_")


_random = bytearray()
_random_lock = threading.Lock()
"""Worker threads and the event loop both take ids: without it two could take the same 16 bytes."""


def _after_fork() -> None:
    global _random_lock
    _random.clear()  # a child must never hand out its parent's ids
    _random_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def new_request_id() -> str:
    """A random (version 4) UUID, as FC's request ids are, from the OS's generator; fetched 4 KB at a time,
    since one system call per invocation is a measurable part of a warm one. Safe to call from any thread."""
    with _random_lock:
        if not _random:
            _random.extend(os.urandom(4096))
        raw = bytes(_random[-16:])
        del _random[-16:]
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class FunctionState(str, Enum):
    ACTIVE = "Active"
    """Has an image and serves invocations. (A function whose first build has not finished does not exist yet.)"""


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidArgument(
            f"name must match {defaults.NAME_PATTERN} (lower-case letters, digits and '-', starting with a letter)"
        )
    return name


def _int(data: dict, key: str, default: int, bounds: tuple[int, int]) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{key} must be an integer")
    low, high = bounds
    if not low <= value <= high:
        raise InvalidArgument(f"{key} must be between {low} and {high}, not {value}")
    return value


def _handler(data: dict, key: str, default: str | None, required: bool) -> str | None:
    value = data.get(key, default)
    if value is None or (value == "" and not required):
        if required:
            raise InvalidArgument(f"{key} is required")
        return None
    if not isinstance(value, str) or not _HANDLER_RE.fullmatch(value):
        raise InvalidArgument(f"{key} must have the form module.function, for example index.handler")
    return value


def _initializer_flag(data: dict, default: str | None) -> str | None:
    """A custom container's initializer: FC uses it as a flag (any non-empty string means call
    /initialize), so it is not a module.function there."""
    value = data.get("initializer", default)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 128 or not value.isprintable():
        raise InvalidArgument("initializer must be a string of at most 128 printable characters")
    return value


def _destination(data: dict, key: str, default: str | None) -> str | None:
    value = data.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not _DEST_RE.fullmatch(value):
        raise InvalidArgument(f"async.{key} must be 'queue:<name>' or 'function:<name>'")
    return value


def check_description(body: dict, default: str) -> str:
    """A resource's `description` field (absent: `default`; null: empty)."""
    value = body.get("description", default)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidArgument("description must be a string of at most 256 characters")
    return value


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown field(s) in {where}: {', '.join(unknown)}")


@dataclass(frozen=True)
class AsyncConfig:
    retries: int = defaults.ASYNC_RETRIES
    max_event_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = defaults.ON_FAILURE

    _KEYS = {"retries", "maxEventAgeSeconds", "onSuccess", "onFailure"}

    @classmethod
    def from_api(cls, data: Any, base: "AsyncConfig | None" = None) -> "AsyncConfig":
        base = base or cls()
        if not isinstance(data, dict):
            raise InvalidArgument("async must be an object")
        _check_keys(data, cls._KEYS, "async")
        age = data.get("maxEventAgeSeconds", base.max_event_age_s)
        if age is not None:
            age = _int({"async.maxEventAgeSeconds": age}, "async.maxEventAgeSeconds", 0, defaults.MAX_EVENT_AGE_S_RANGE)
        return cls(
            retries=_int({"async.retries": data.get("retries", base.retries)}, "async.retries", 0,
                         defaults.ASYNC_RETRIES_RANGE),
            max_event_age_s=age,
            on_success=_destination(data, "onSuccess", base.on_success),
            on_failure=_destination(data, "onFailure", base.on_failure) or defaults.ON_FAILURE,
        )

    def to_api(self) -> dict:
        return {"retries": self.retries, "maxEventAgeSeconds": self.max_event_age_s,
                "onSuccess": self.on_success, "onFailure": self.on_failure}


@dataclass(frozen=True)
class CustomContainer:
    image: str
    command: tuple[str, ...] | None = None
    port: int = defaults.RUNTIME_PORT

    _KEYS = {"image", "command", "port"}

    @classmethod
    def from_api(cls, data: Any) -> "CustomContainer":
        if not isinstance(data, dict):
            raise InvalidArgument("customContainer must be an object")
        _check_keys(data, cls._KEYS, "customContainer")
        image = data.get("image")
        if not isinstance(image, str) or not _IMAGE_RE.fullmatch(image):
            raise InvalidArgument("customContainer.image must be an image reference such as my-image:1")
        command = data.get("command")
        if command is not None:
            if not isinstance(command, list) or not command or \
                    not all(isinstance(c, str) and "\0" not in c for c in command):
                raise InvalidArgument("customContainer.command must be a non-empty list of strings (no NUL)")
            command = tuple(command)
        port = _int({"customContainer.port": data.get("port", defaults.RUNTIME_PORT)}, "customContainer.port", 0,
                    (1, 65535))
        return cls(image=image, command=command, port=port)

    def to_api(self) -> dict:
        return {"image": self.image, "command": list(self.command) if self.command else None, "port": self.port}


@dataclass(frozen=True)
class FunctionSpec:
    """What a user asks for: validated on construction from the API's camelCase JSON."""

    name: str
    runtime: str = "python3.11"
    handler: str = "index.handler"
    initializer: str | None = None
    description: str = ""
    memory_mb: int = defaults.MEMORY_MB
    timeout_s: int = defaults.TIMEOUT_S
    init_timeout_s: int = defaults.INIT_TIMEOUT_S
    environment: dict = field(default_factory=dict)
    instance_concurrency: int = defaults.INSTANCE_CONCURRENCY
    max_instances: int = defaults.MAX_INSTANCES
    reserved_instances: int = 0
    keep_alive_s: int = defaults.KEEP_ALIVE_S
    pause_after_s: int | None = None
    """Seconds idle before a container is paused (frozen); None: never paused."""
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    custom_container: CustomContainer | None = None
    sandbox: str | None = None
    """How its containers are isolated: runc or gvisor (defaults.SANDBOXES); None until the platform gives its
    default (FAAS_SANDBOX) at create or update; a function stored before sandboxes existed runs in runc."""

    API_KEYS = {
        "name", "runtime", "handler", "initializer", "description", "memoryMB", "timeoutSeconds",
        "initializationTimeoutSeconds", "environment", "instanceConcurrency", "maxInstances",
        "reservedInstances", "keepAliveSeconds", "pauseAfterSeconds", "async", "customContainer", "code",
        "sandbox",
    }

    @property
    def docker_runtime(self) -> str | None:
        """The Docker runtime of its containers (None: the engine's default)."""
        return defaults.SANDBOXES.get(self.sandbox or "runc")

    @classmethod
    def from_api(cls, data: Any, base: "FunctionSpec | None" = None) -> "FunctionSpec":
        """A spec from a create body, or (with `base`) an update body whose absent fields keep their values."""
        if not isinstance(data, dict):
            raise InvalidArgument("the body must be a JSON object")
        _check_keys(data, cls.API_KEYS, "the function spec")
        if base is None:
            base = cls(name=check_name(data.get("name")))
        elif "name" in data and data["name"] != base.name:
            raise InvalidArgument("name cannot be changed")
        runtime = data.get("runtime", base.runtime)
        if runtime not in defaults.RUNTIMES:
            raise InvalidArgument(f"runtime must be one of {', '.join(defaults.RUNTIMES)}, not {runtime!r}")
        custom = base.custom_container
        if "customContainer" in data:
            custom = None if data["customContainer"] is None else CustomContainer.from_api(data["customContainer"])
        if runtime == "custom-container" and custom is None:
            raise InvalidArgument("runtime custom-container needs customContainer.image")
        if runtime != "custom-container":
            custom = None
        description = data.get("description", base.description)
        if not isinstance(description, str) or len(description) > 256:
            raise InvalidArgument("description must be a string of at most 256 characters")
        memory = _int(data, "memoryMB", base.memory_mb, defaults.MEMORY_MB_RANGE)
        if memory % defaults.MEMORY_MB_STEP:
            raise InvalidArgument(f"memoryMB must be a multiple of {defaults.MEMORY_MB_STEP}")
        max_instances = _int(data, "maxInstances", base.max_instances, defaults.MAX_INSTANCES_RANGE)
        reserved = _int(data, "reservedInstances", base.reserved_instances, defaults.RESERVED_INSTANCES_RANGE)
        if reserved > max_instances:
            raise InvalidArgument(f"reservedInstances ({reserved}) cannot exceed maxInstances ({max_instances})")
        pause_after = data.get("pauseAfterSeconds", base.pause_after_s)
        if pause_after is not None:
            pause_after = _int({"pauseAfterSeconds": pause_after}, "pauseAfterSeconds", 0,
                               defaults.PAUSE_AFTER_S_RANGE)
        sandbox = data.get("sandbox", base.sandbox)
        if sandbox is not None and (not isinstance(sandbox, str) or sandbox not in defaults.SANDBOXES):
            raise InvalidArgument(f"sandbox must be one of {', '.join(defaults.SANDBOXES)} (or null: the "
                                  "platform's default)")
        async_config = base.async_config
        if "async" in data:
            raw_async = data["async"]
            async_config = AsyncConfig() if raw_async is None else AsyncConfig.from_api(raw_async, base.async_config)
        return cls(
            name=base.name,
            runtime=runtime,
            handler=_handler(data, "handler", base.handler, required=True),
            initializer=_initializer_flag(data, base.initializer) if runtime == "custom-container"
            else _handler(data, "initializer", base.initializer, required=False),
            description=description,
            memory_mb=memory,
            timeout_s=_int(data, "timeoutSeconds", base.timeout_s, defaults.TIMEOUT_S_RANGE),
            init_timeout_s=_int(data, "initializationTimeoutSeconds", base.init_timeout_s,
                                defaults.INIT_TIMEOUT_S_RANGE),
            environment=_environment(data.get("environment", base.environment)),
            instance_concurrency=_int(data, "instanceConcurrency", base.instance_concurrency,
                                      defaults.INSTANCE_CONCURRENCY_RANGE),
            max_instances=max_instances,
            reserved_instances=reserved,
            keep_alive_s=_int(data, "keepAliveSeconds", base.keep_alive_s, defaults.KEEP_ALIVE_S_RANGE),
            pause_after_s=pause_after,
            async_config=async_config,
            custom_container=custom,
            sandbox=sandbox,
        )

    def to_api(self) -> dict:
        return {
            "name": self.name,
            "runtime": self.runtime,
            "handler": self.handler,
            "initializer": self.initializer,
            "description": self.description,
            "memoryMB": self.memory_mb,
            "timeoutSeconds": self.timeout_s,
            "initializationTimeoutSeconds": self.init_timeout_s,
            "environment": dict(self.environment),
            "instanceConcurrency": self.instance_concurrency,
            "maxInstances": self.max_instances,
            "reservedInstances": self.reserved_instances,
            "keepAliveSeconds": self.keep_alive_s,
            "pauseAfterSeconds": self.pause_after_s,
            "async": self.async_config.to_api(),
            "customContainer": self.custom_container.to_api() if self.custom_container else None,
            "sandbox": self.sandbox,
        }


def tail(text: str, limit: int) -> str:
    """The last `limit` bytes of `text`, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    return data[-limit:].decode("utf-8", "ignore") if len(data) > limit else text


def _environment(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("environment must be an object of string values")
    total = 0
    for key, val in value.items():
        if not _ENV_NAME_RE.fullmatch(key):
            raise InvalidArgument(f"environment variable name {key!r} is not valid")
        if key.startswith(_RESERVED_ENV_PREFIXES):
            raise InvalidArgument(f"environment variable {key} uses a reserved prefix (FC_, FAAS_)")
        if not isinstance(val, str) or "\0" in val:
            raise InvalidArgument(f"environment variable {key} must be a string without NUL characters")
        total += len(key) + len(val.encode("utf-8"))
    if total > defaults.ENV_TOTAL_BYTES:
        raise InvalidArgument(f"environment is larger than {defaults.ENV_TOTAL_BYTES} bytes")
    return dict(value)


@dataclass(frozen=True)
class BuildInfo:
    """The outcome of one image build, as kept with the function."""

    status: str  # "succeeded" | "failed" | "cached"
    image: str | None
    started_at: float
    duration_ms: int
    log: str = ""
    """The build log (its last BUILD_LOG_BYTES); the API shows its tail, the registry keeps it whole."""

    @property
    def log_tail(self) -> str:
        return tail(self.log, defaults.BUILD_LOG_TAIL_BYTES)

    def to_api(self) -> dict:
        return {"status": self.status, "image": self.image, "startedAt": self.started_at,
                "durationMs": self.duration_ms, "logTail": self.log_tail}

    @classmethod
    def from_api(cls, data: dict) -> "BuildInfo":
        return cls(status=data["status"], image=data.get("image"), started_at=data["startedAt"],
                   duration_ms=data["durationMs"], log=data.get("logTail", ""))


@dataclass(frozen=True)
class FunctionRecord:
    """A function as the registry keeps it: its spec plus what the platform made of it. LATEST is the one
    PUT changes; a published version is an immutable copy of it (`version_id` "1", "2", ...)."""

    spec: FunctionSpec
    state: FunctionState
    revision: int
    """LATEST's revision: 1 at create, one more on each update. A version keeps the one it was published from."""
    code_sha256: str | None
    image: str | None
    created_at: float
    updated_at: float
    last_build: BuildInfo | None = None
    function_id: str = ""
    """Made once at create: a function deleted and created again under its name is another function, whose
    versions start at 1 again, so caches and containers are keyed by `release`, never the name."""
    version_id: str = defaults.LATEST
    """LATEST, or the id of the published version this is."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def release(self) -> tuple[str, str, int]:
        """What one release of one function is: containers and cached headers belong to exactly one."""
        return self.function_id, self.version_id, self.revision

    @property
    def pool_key(self) -> str:
        """`<name>@<version id>`: the pool of containers of this version (LATEST's revisions share one)."""
        return f"{self.spec.name}@{self.version_id}"

    def to_api(self) -> dict:
        return self.spec.to_api() | {
            "functionId": self.function_id,
            "state": self.state.value,
            "revision": self.revision,
            "codeSha256": self.code_sha256,
            "image": self.image,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastBuild": self.last_build.to_api() if self.last_build else None,
        }

    @classmethod
    def from_api(cls, data: dict, version_id: str = defaults.LATEST) -> "FunctionRecord":
        spec_data = {k: data[k] for k in FunctionSpec.API_KEYS if k in data and k != "code"}
        if spec_data.get("customContainer") is None:
            spec_data.pop("customContainer", None)
        return cls(
            spec=FunctionSpec.from_api(spec_data),
            state=FunctionState(data["state"]),
            # A record written before versions existed calls its revision "version".
            revision=data["revision"] if "revision" in data else data["version"],
            code_sha256=data.get("codeSha256"),
            image=data.get("image"),
            created_at=data["createdAt"],
            updated_at=data["updatedAt"],
            last_build=BuildInfo.from_api(data["lastBuild"]) if data.get("lastBuild") else None,
            function_id=data.get("functionId") or "",
            version_id=version_id,
        )

    def evolve(self, **changes) -> "FunctionRecord":
        return replace(self, **changes)
