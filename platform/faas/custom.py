"""The parts of a spec that say how a function that serves FC's HTTP protocol itself is run: a custom container
(its own image) or a custom runtime (its code package's own server on the platform's Debian image)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import defaults
from .errors import InvalidArgument
from .fields import api, api_form, integer, read

_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")


def _image(value: Any, key: str, _values: dict[str, Any]) -> str:
    if not isinstance(value, str) or not _IMAGE_RE.fullmatch(value):
        raise InvalidArgument(f"{key} must be an image reference such as my-image:1")
    return value


def _command(value: Any, key: str, _values: dict[str, Any]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and "\0" not in c for c in value):
        raise InvalidArgument(f"{key} must be a non-empty list of strings (no NUL)")
    return tuple(value)


def _protocol(value: Any, key: str, _values: dict[str, Any]) -> str:
    if value is None:
        return "fc"
    if value not in defaults.CONTAINER_PROTOCOLS:
        raise InvalidArgument(f"{key} must be one of {', '.join(defaults.CONTAINER_PROTOCOLS)}")
    return value


def _args(value: Any, key: str, _values: dict[str, Any]) -> tuple[str, ...] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > 64 or not all(isinstance(c, str) and "\0" not in c for c in value):
        raise InvalidArgument(f"{key} must be a list of at most 64 strings (no NUL)")
    return tuple(value)


def _list_or_none(command: tuple[str, ...] | None) -> list[str] | None:
    return list(command) if command else None


@dataclass(frozen=True)
class CustomContainer:
    image: str = field(metadata=api("image", _image))
    command: tuple[str, ...] | None = field(default=None, metadata=api("command", _command, _list_or_none))
    port: int = field(default=defaults.RUNTIME_PORT, metadata=api("port", integer((1, 65535))))
    protocol: str = field(default="fc", metadata=api("protocol", _protocol))
    """`fc`: the image serves FC's custom-container protocol on `port`; `lambda`: it is a Lambda container image,
    whose Runtime Interface Client the platform serves Lambda's Runtime API to (through a bridge it adds to the
    image: see faas.builder.lambda_bridge), on `port`. Its runtime takes one call at a time, as on Lambda: with an
    instanceConcurrency above 1 the others wait in the container."""

    @classmethod
    def from_api(cls, data: Any) -> "CustomContainer":
        if not isinstance(data, dict):
            raise InvalidArgument("customContainer must be an object")
        return read(cls, data, None, "customContainer", "customContainer.")

    def to_api(self) -> dict:
        return api_form(self)


@dataclass(frozen=True)
class CustomRuntimeConfig:
    """FC's customRuntimeConfig: what starts a custom runtime's server (`command`, then `args`; by default the code
    package's executable `/code/bootstrap`), and the port it listens on."""

    command: tuple[str, ...] | None = field(default=None, metadata=api("command", _command, _list_or_none))
    args: tuple[str, ...] | None = field(default=None, metadata=api("args", _args, _list_or_none))
    port: int = field(default=defaults.RUNTIME_PORT, metadata=api("port", integer((1, 65535))))

    @classmethod
    def from_api(cls, data: Any) -> "CustomRuntimeConfig":
        if not isinstance(data, dict):
            raise InvalidArgument("customRuntimeConfig must be an object")
        return read(cls, data, None, "customRuntimeConfig", "customRuntimeConfig.")

    def to_api(self) -> dict:
        return api_form(self)

    @property
    def argv(self) -> list[str]:
        """What the container runs."""
        return [*(self.command or (BOOTSTRAP,)), *(self.args or ())]


CODE_DIR = "/code"
BOOTSTRAP = f"{CODE_DIR}/bootstrap"
"""What starts a custom runtime whose spec names no command: the code package's `bootstrap`, executable."""
