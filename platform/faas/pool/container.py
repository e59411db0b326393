"""What a function container is made of: its Docker config, its first Instance, the runtime's x-fc-* headers."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import defaults
from ..docker_host import (
    LABEL_CONFIG,
    LABEL_FUNCTION,
    LABEL_FUNCTION_ID,
    LABEL_PLATFORM,
    LABEL_REVISION,
    LABEL_ROLE,
    LABEL_VERSION_ID,
    ROLE_FUNCTION,
    ContainerConfig,
)
from ..models import AsyncConfig, FunctionRecord, FunctionSpec
from .instance import Instance


def runtime_port(record: FunctionRecord) -> int:
    return record.spec.port


def command(spec: FunctionSpec) -> list[str] | None:
    """What its container runs, when not its image's command: a custom runtime's server, or the command a custom
    container's spec names (a Lambda image's is in the image the platform made of it, behind the bridge)."""
    if spec.custom_runtime is not None:
        return spec.custom_runtime.argv
    custom = spec.custom_container
    return list(custom.command) if custom and custom.command and custom.protocol != "lambda" else None


def runtime_socket(settings) -> str:
    """Where a runtime listens in its container: its socket directory's mount with FAAS_SOCKET_DIR."""
    return f"{defaults.SOCKET_MOUNT}/runtime.sock" if settings.socket_dir is not None else defaults.RUNTIME_SOCKET


def container_config(record: FunctionRecord, platform_id: str, socket: str = defaults.RUNTIME_SOCKET,
                     layers: Path | None = None) -> ContainerConfig:
    """The container of `record`: its image, labels (found again by them after a restart), environment
    (FC's FC_* variables after the function's own), memory, and its layers' files (`layers`: this host's
    directory of them, faas.layers.files) at /opt."""
    spec = record.spec
    custom = spec.custom_container
    lambda_shaped = spec.handler_type == "lambda" or (custom is not None and custom.protocol == "lambda")
    env = (lambda_environment(record) if lambda_shaped else {}) | dict(spec.environment) | {
        "FC_FUNCTION_NAME": spec.name,
        "FC_FUNCTION_HANDLER": spec.handler,
        "FC_FUNCTION_HANDLER_TYPE": spec.handler_type,
        "FC_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "FC_FUNCTION_TIMEOUT": str(spec.timeout_s),
        "FC_FUNCTION_INITIALIZER": spec.initializer or "",
        "FC_INITIALIZATION_TIMEOUT": str(spec.init_timeout_s),
        "FC_SERVER_PORT": str(runtime_port(record)),
        "FC_SERVER_SOCKET": socket,
    }
    return ContainerConfig(
        image=record.image,
        name=f"faas-{spec.name}-{record.version_id.lower()}-r{record.revision}-{secrets.token_hex(4)}",
        labels={LABEL_PLATFORM: platform_id, LABEL_FUNCTION: spec.name, LABEL_REVISION: str(record.revision),
                LABEL_VERSION_ID: record.version_id, LABEL_FUNCTION_ID: record.function_id,
                LABEL_CONFIG: config_digest(record), LABEL_ROLE: ROLE_FUNCTION},
        environment=env,
        memory_mb=spec.memory_mb,
        command=command(spec),
        mounts=((str(layers), defaults.LAYER_DIR),) if layers is not None else (),
        runtime=spec.docker_runtime,
    )


def lambda_environment(record: FunctionRecord) -> dict[str, str]:
    """Lambda's variables for a Lambda-shaped function (handlerType lambda) or a Lambda image, under its own: the
    Lambda surface keeps AWS_LAMBDA_FUNCTION_NAME and AWS_REGION in a function it makes."""
    spec = record.spec
    version = "$LATEST" if record.version_id == defaults.LATEST else record.version_id
    env = {"AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_VERSION": version,
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb), "AWS_REGION": defaults.LAMBDA_REGION,
           "AWS_DEFAULT_REGION": spec.environment.get("AWS_REGION", defaults.LAMBDA_REGION),
           "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.environment.get('AWS_LAMBDA_FUNCTION_NAME', spec.name)}"}
    if spec.custom_container is None:  # (an image's handler is its CMD, and its task root its own)
        env |= {"LAMBDA_TASK_ROOT": "/code", "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}"}
    return env


POOL_ONLY: dict[str, Any] = {"reserved_instances": 0, "max_instances": 1, "keep_alive_s": 0, "pause_after_s": None,
                             "keep_alive_policy": "fixed", "async_config": AsyncConfig(), "description": ""}
"""Spec fields no container sees (the pool and the async machinery read them): a change of these alone keeps
the containers that run."""


def same_containers(a: FunctionRecord, b: FunctionRecord) -> bool:
    """Containers of `a` are what `b` would start: the same function, image and everything they are told."""
    return a.function_id == b.function_id and a.version_id == b.version_id and config_digest(a) == config_digest(b)


def config_digest(record: FunctionRecord) -> str:
    """What a container of `record` is: its image and the spec without the fields only the pool reads."""
    spec = replace(record.spec, **POOL_ONLY).to_api()
    doc = json.dumps({"image": record.image, "spec": spec}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def new_instance(record: FunctionRecord, reserved: bool) -> Instance:
    """The pool's view of a container about to start for `record` (Starting)."""
    spec = record.spec
    return Instance(function=record.name, revision=record.revision, version_id=record.version_id,
                    concurrency=spec.instance_concurrency, memory_mb=spec.memory_mb, keep_alive_s=spec.keep_alive_cap_s,
                    pause_after_s=spec.pause_after_s, reserved=reserved, record=record, port=runtime_port(record))


class RuntimeHeaders:
    """The x-fc-* headers of FC's protocol that tell the runtime about its function, made once per release."""

    MAX_ENTRIES = 4096

    def __init__(self):
        self._cache: dict[tuple[str, str, int], dict[str, str]] = {}
        self._encoded: dict[tuple[str, str, int], bytes] = {}

    def __call__(self, record: FunctionRecord) -> dict[str, str]:
        headers = self._cache.get(record.release)
        if headers is None:
            if len(self._cache) > self.MAX_ENTRIES:
                self._cache.clear()
            spec = record.spec
            headers = self._cache[record.release] = {
                "x-fc-function-name": spec.name,
                "x-fc-function-handler": spec.handler,
                "x-fc-function-handler-type": spec.handler_type,
                "x-fc-function-memory": str(spec.memory_mb),
                "x-fc-function-timeout": str(spec.timeout_s),
                "x-fc-function-initializer": spec.initializer or "",
                "x-fc-initialization-timeout": str(spec.init_timeout_s),
            }
        return headers

    def encoded(self, record: FunctionRecord) -> bytes:
        """The same headers as HTTP header lines, each ending in CRLF, encoded once per release (the container
        client sends them as they are)."""
        lines = self._encoded.get(record.release)
        if lines is None:
            if len(self._encoded) > self.MAX_ENTRIES:
                self._encoded.clear()
            lines = self._encoded[record.release] = "".join(
                f"{name}: {value}\r\n" for name, value in self(record).items()).encode("latin-1")
        return lines
