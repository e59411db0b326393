"""Value objects of the platform. A FunctionSpec that exists is valid: nothing downstream checks it again.

The spec and its parts declare each field once, with its API (camelCase) name, its parser (which checks it) and how
it is written back; `from_api`, `to_api` and the keys a body may have all follow from that declaration."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from . import defaults
from .custom import CustomContainer, CustomRuntimeConfig
from .errors import InvalidArgument
from .fields import api, api_form, api_keys, integer, read, whole
from .layers.model import check_refs
from .runtimes import CUSTOM_CONTAINER, CUSTOM_RUNTIME, RUNTIMES

_NAME_RE = re.compile(defaults.NAME_PATTERN)
_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEST_RE = re.compile(r"^(queue|function):([a-z][a-z0-9-]{0,62})$")
_RESERVED_ENV_PREFIXES = ("FC_", "FAAS_")
CUSTOM = CUSTOM_CONTAINER
"""The runtime whose function is its own image (customContainer)."""


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


def check_description(body: dict, default: str) -> str:
    """A resource's `description` field (absent: `default`; null: empty)."""
    value = body.get("description", default)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidArgument("description must be a string of at most 256 characters")
    return value


def tail(text: str, limit: int) -> str:
    """The last `limit` bytes of `text`, cut at a character boundary."""
    data = text.encode("utf-8", "replace")
    return data[-limit:].decode("utf-8", "ignore") if len(data) > limit else text


def _destination(value: Any, key: str, _values: dict[str, Any]) -> str | None:
    if value is not None and (not isinstance(value, str) or not _DEST_RE.fullmatch(value)):
        raise InvalidArgument(f"{key} must be 'queue:<name>' or 'function:<name>'")
    return value


def _on_failure(value: Any, key: str, values: dict[str, Any]) -> str:
    """Null or empty: the dead-letter queue; failed events are never dropped unseen."""
    return _destination(value, key, values) or defaults.ON_FAILURE


@dataclass(frozen=True)
class AsyncConfig:
    retries: int = field(default=defaults.ASYNC_RETRIES,
                         metadata=api("retries", integer(defaults.ASYNC_RETRIES_RANGE)))
    max_event_age_s: int | None = field(
        default=None, metadata=api("maxEventAgeSeconds", integer(defaults.MAX_EVENT_AGE_S_RANGE, nullable=True)))
    on_success: str | None = field(default=None, metadata=api("onSuccess", _destination))
    on_failure: str | None = field(default=defaults.ON_FAILURE, metadata=api("onFailure", _on_failure))

    @classmethod
    def from_api(cls, data: Any, base: "AsyncConfig | None" = None) -> "AsyncConfig":
        """A config from its API form; the fields it leaves out keep `base`'s values."""
        if not isinstance(data, dict):
            raise InvalidArgument("async must be an object")
        return read(cls, data, base or cls(), "async", "async.")

    def to_api(self) -> dict:
        return api_form(self)


def _name(value: Any, _key: str, values: dict[str, Any]) -> str:
    """Given at create; an update may repeat it, never change it."""
    if values["name"] is None:
        return check_name(value)
    if value != values["name"]:
        raise InvalidArgument("name cannot be changed")
    return value


def _runtime(value: Any, _key: str, _values: dict[str, Any]) -> str:
    if value not in defaults.RUNTIMES:
        raise InvalidArgument(f"runtime must be one of {', '.join(defaults.RUNTIMES)}, not {value!r}")
    return value


def _handler(value: Any, key: str, _values: dict[str, Any]) -> str:
    if value is None:
        raise InvalidArgument(f"{key} is required")
    if not isinstance(value, str) or not _HANDLER_RE.fullmatch(value):
        raise InvalidArgument(f"{key} must have the form module.function, for example index.handler")
    return value


def _initializer(value: Any, key: str, values: dict[str, Any]) -> str | None:
    """A module.function; a custom container's or runtime's is a flag (FC calls /initialize when it is any non-empty
    string)."""
    if value is None or value == "":
        return None
    if not RUNTIMES[values["runtime"]].serves_http:
        return _handler(value, key, values)
    if not isinstance(value, str) or len(value) > 128 or not value.isprintable():
        raise InvalidArgument(f"{key} must be a string of at most 128 printable characters")
    return value


def _description(value: Any, key: str, _values: dict[str, Any]) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidArgument(f"{key} must be a string of at most 256 characters")
    return value


def _memory(value: Any, key: str, _values: dict[str, Any]) -> int:
    memory = whole(value, key, defaults.MEMORY_MB_RANGE)
    if memory % defaults.MEMORY_MB_STEP:
        raise InvalidArgument(f"{key} must be a multiple of {defaults.MEMORY_MB_STEP}")
    return memory


def _environment(value: Any, _key: str, _values: dict[str, Any]) -> dict:
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


def _reserved(value: Any, key: str, values: dict[str, Any]) -> int:
    reserved = whole(value, key, defaults.RESERVED_INSTANCES_RANGE)
    if reserved > values["max_instances"]:
        raise InvalidArgument(f"{key} ({reserved}) cannot exceed maxInstances ({values['max_instances']})")
    return reserved


def _async(value: Any, _key: str, values: dict[str, Any]) -> AsyncConfig:
    """Left out of an update, the config it had; null: the defaults; else merged into the config it had."""
    if isinstance(value, AsyncConfig):
        return value
    return AsyncConfig() if value is None else AsyncConfig.from_api(value, values["async_config"])


def _custom_container(value: Any, _key: str, values: dict[str, Any]) -> CustomContainer | None:
    """Left out of an update, the one it had; kept only by (and needed by) the custom-container runtime."""
    if value is not None and not isinstance(value, CustomContainer):
        value = CustomContainer.from_api(value)
    if values["runtime"] != CUSTOM:
        return None
    if value is None:
        raise InvalidArgument("runtime custom-container needs customContainer.image")
    return value


def _custom_runtime(value: Any, _key: str, values: dict[str, Any]) -> CustomRuntimeConfig | None:
    """Left out of an update, the one it had; kept only by the custom runtime (whose default starts its bootstrap)."""
    if value is not None and not isinstance(value, CustomRuntimeConfig):
        value = CustomRuntimeConfig.from_api(value)
    if values["runtime"] != CUSTOM_RUNTIME:
        return None
    return value or CustomRuntimeConfig()


def _layers(value: Any, key: str, values: dict[str, Any]) -> tuple[str, ...]:
    layers = check_refs(list(value) if isinstance(value, tuple) else value, key)
    if layers and RUNTIMES[values["runtime"]].kind == "container":
        raise InvalidArgument(f"{key}: a custom container has no layers (its files are its image's)")
    return layers


def _sandbox(value: Any, _key: str, _values: dict[str, Any]) -> str | None:
    if value is not None and (not isinstance(value, str) or value not in defaults.SANDBOXES):
        raise InvalidArgument(f"sandbox must be one of {', '.join(defaults.SANDBOXES)} (or null: the "
                              "platform's default)")
    return value


def _keep_alive_policy(value: Any, key: str, _values: dict[str, Any]) -> str:
    if value is None:
        return defaults.KEEP_ALIVE_POLICY
    if value not in defaults.KEEP_ALIVE_POLICIES:
        raise InvalidArgument(f"{key} must be one of {', '.join(defaults.KEEP_ALIVE_POLICIES)}")
    return value


def _handler_type(value: Any, key: str, values: dict[str, Any]) -> str:
    if value is None:
        value = "event"
    if value not in defaults.HANDLER_TYPES:
        raise InvalidArgument(f"{key} must be one of {', '.join(defaults.HANDLER_TYPES)}")
    runtime = RUNTIMES[values["runtime"]]
    if value != "event" and runtime.serves_http:
        kind = "custom container" if runtime.kind == "container" else "custom runtime"
        raise InvalidArgument(f"{key} {value} is for Python functions: a {kind} serves HTTP itself")
    return value


def _api_or_none(obj: Any) -> dict | None:
    return obj.to_api() if obj is not None else None


@dataclass(frozen=True)
class FunctionSpec:
    """What a user asks for: validated on construction from the API's camelCase JSON. The fields are read in the
    order declared here (a field's parser may look at those before it) and written in it."""

    name: str = field(metadata=api("name", _name))
    runtime: str = field(default="python3.11", metadata=api("runtime", _runtime))
    handler: str = field(default="index.handler", metadata=api("handler", _handler))
    handler_type: str = field(default="event", metadata=api("handlerType", _handler_type))
    """`event`: handler(event, context); `wsgi`: an HTTP function, a WSGI application called through its HTTP
    trigger with the request as it came, its answer streamed back (FC 2.0's HTTP functions); `lambda`: called as
    Lambda's Python runtime calls a handler (JSON in and out, Lambda's context, Lambda's events from triggers)."""
    initializer: str | None = field(default=None, metadata=api("initializer", _initializer))
    description: str = field(default="", metadata=api("description", _description))
    memory_mb: int = field(default=defaults.MEMORY_MB, metadata=api("memoryMB", _memory))
    timeout_s: int = field(default=defaults.TIMEOUT_S,
                           metadata=api("timeoutSeconds", integer(defaults.TIMEOUT_S_RANGE)))
    init_timeout_s: int = field(default=defaults.INIT_TIMEOUT_S,
                                metadata=api("initializationTimeoutSeconds", integer(defaults.INIT_TIMEOUT_S_RANGE)))
    environment: dict = field(default_factory=dict, metadata=api("environment", _environment, dict))
    instance_concurrency: int = field(
        default=defaults.INSTANCE_CONCURRENCY,
        metadata=api("instanceConcurrency", integer(defaults.INSTANCE_CONCURRENCY_RANGE)))
    max_instances: int = field(default=defaults.MAX_INSTANCES,
                               metadata=api("maxInstances", integer(defaults.MAX_INSTANCES_RANGE)))
    reserved_instances: int = field(default=0, metadata=api("reservedInstances", _reserved))
    keep_alive_s: int | None = field(
        default=None, metadata=api("keepAliveSeconds", integer(defaults.KEEP_ALIVE_S_RANGE, nullable=True)))
    """Seconds an idle container is kept: the window itself under the fixed policy, the adaptive policy's
    upper bound; None: defaults.KEEP_ALIVE_S (fixed) or defaults.ADAPTIVE_KEEP_ALIVE_CAP_S (adaptive)."""
    keep_alive_policy: str = field(default=defaults.KEEP_ALIVE_POLICY,
                                   metadata=api("keepAlivePolicy", _keep_alive_policy))
    pause_after_s: int | None = field(
        default=None, metadata=api("pauseAfterSeconds", integer(defaults.PAUSE_AFTER_S_RANGE, nullable=True)))
    """Seconds idle before a container is paused (frozen); None: never paused."""
    async_config: AsyncConfig = field(default_factory=AsyncConfig, metadata=api("async", _async, AsyncConfig.to_api))
    custom_container: CustomContainer | None = field(
        default=None, metadata=api("customContainer", _custom_container, _api_or_none))
    custom_runtime: CustomRuntimeConfig | None = field(
        default=None, metadata=api("customRuntimeConfig", _custom_runtime, _api_or_none))
    layers: tuple[str, ...] = field(default=(), metadata=api("layers", _layers, list))
    """Layer versions (`name:version`) whose files its containers see under /opt, in order: a later layer's file
    wins over an earlier one's. A create or update may name a layer alone: its newest version is stored."""
    sandbox: str | None = field(default=None, metadata=api("sandbox", _sandbox))
    """How its containers are isolated: runc or gvisor (defaults.SANDBOXES); None until the platform gives its
    default (FAAS_SANDBOX) at create or update; a function stored before sandboxes existed runs in runc."""

    BODY_ONLY = frozenset({"code"})
    """Keys a create or update body may have beside the spec's: its code, which the builder reads."""

    @property
    def keep_alive_cap_s(self) -> int:
        """The longest an idle container is kept (the fixed policy's window, the adaptive policy's bound)."""
        if self.keep_alive_s is not None:
            return self.keep_alive_s
        return defaults.KEEP_ALIVE_S if self.keep_alive_policy == "fixed" else defaults.ADAPTIVE_KEEP_ALIVE_CAP_S

    @property
    def serves_http(self) -> bool:
        """Its code is a server of FC's HTTP protocol (a custom container or runtime), not handlers."""
        return RUNTIMES[self.runtime].serves_http

    @property
    def port(self) -> int:
        """Where its container's server listens."""
        custom = self.custom_container or self.custom_runtime
        return custom.port if custom else defaults.RUNTIME_PORT

    @property
    def docker_runtime(self) -> str | None:
        """The Docker runtime of its containers (None: the engine's default)."""
        return defaults.SANDBOXES.get(self.sandbox or "runc")

    @classmethod
    def from_api(cls, data: Any, base: "FunctionSpec | None" = None) -> "FunctionSpec":
        """A spec from a create body, or (with `base`) an update body whose absent fields keep their values."""
        if not isinstance(data, dict):
            raise InvalidArgument("the body must be a JSON object")
        return read(cls, data, base, "the function spec", body_only=cls.BODY_ONLY)

    def to_api(self) -> dict:
        return api_form(self)


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
    image: str
    """The image its containers run: a function exists once its first build has one."""
    created_at: float
    updated_at: float
    last_build: BuildInfo | None = None
    function_id: str = ""
    """Made once at create: a function deleted and created again under its name is another function, whose
    versions start at 1 again, so caches and containers are keyed by `release`, never the name."""
    version_id: str = defaults.LATEST
    """LATEST, or the id of the published version this is."""
    layer_images: tuple[str, ...] = ()
    """The images of its spec's layers, in order (each host unpacks them once: faas.layers.files)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def release(self) -> tuple[str, str, int]:
        """What one release of one function is: containers and cached headers belong to exactly one."""
        return self.function_id, self.version_id, self.revision

    @property
    def images(self) -> tuple[str, ...]:
        """Every image its containers need on their host: its own, and its layers'."""
        return (self.image, *self.layer_images)

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
            "layerImages": list(self.layer_images),
        }

    @classmethod
    def from_api(cls, data: dict, version_id: str = defaults.LATEST) -> "FunctionRecord":
        return cls(
            spec=FunctionSpec.from_api({k: data[k] for k in api_keys(FunctionSpec) if k in data}),
            state=FunctionState(data["state"]),
            # A record written before versions existed calls its revision "version".
            revision=data["revision"] if "revision" in data else data["version"],
            code_sha256=data.get("codeSha256"),
            image=data.get("image") or "",  # (a record without one is refused where it is read: cluster/node.py)
            created_at=data["createdAt"],
            updated_at=data["updatedAt"],
            last_build=BuildInfo.from_api(data["lastBuild"]) if data.get("lastBuild") else None,
            function_id=data.get("functionId") or "",
            version_id=version_id,
            layer_images=tuple(data.get("layerImages") or ()),
        )

    def evolve(self, **changes) -> "FunctionRecord":
        return replace(self, **changes)
