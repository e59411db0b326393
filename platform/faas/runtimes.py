"""The runtimes a function's spec may name, declared once: what each runs, and how its runtime image is made.

- `python3.11` and `python3.13`: Debian's interpreter (12's and 13's), FC's runtime (images/runtime-python) on it,
  and the function's code and requirements in an image built on that runtime image;
- `custom.debian12`: FC's custom runtime, the code package's own server (its `bootstrap`, or the spec's
  customRuntimeConfig command) on the Debian 12 runtime image;
- `custom-container`: the function's own image.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    name: str
    kind: str
    """`python`: the platform's Python runtime runs handlers; `custom`: the code package serves FC's HTTP protocol
    on the platform's image; `container`: the function's own image does."""
    python: str | None = None
    """`major.minor` of the interpreter of its image (a custom runtime's image has one too: its base's)."""
    suite: str | None = None
    """The Debian release its image is built on, where no registry gives `registry_base` (images/base/build.sh)."""
    image_of: str | None = None
    """A custom runtime runs on this Python runtime's image."""

    @property
    def cache_tag(self) -> str:
        """Its Python's byte-code name (`sys.implementation.cache_tag`): `cpython-311`."""
        assert self.python is not None
        return "cpython-" + self.python.replace(".", "")

    @property
    def registry_base(self) -> str:
        """The base image an operator with a registry would use."""
        return f"python:{self.python}-slim"

    @property
    def local_base(self) -> str:
        """The base built locally with debootstrap when no registry can be reached."""
        return f"faas-base:python{self.python}-{self.suite}"

    @property
    def serves_http(self) -> bool:
        """Its function is a server of FC's HTTP protocol (custom runtime or container), not handlers in Python."""
        return self.kind != "python"


DEFAULT = "python3.11"
CUSTOM_RUNTIME = "custom.debian12"
CUSTOM_CONTAINER = "custom-container"

RUNTIMES: dict[str, Runtime] = {r.name: r for r in (
    Runtime("python3.11", "python", python="3.11", suite="bookworm"),
    Runtime("python3.13", "python", python="3.13", suite="trixie"),
    Runtime(CUSTOM_RUNTIME, "custom", python="3.11", image_of=DEFAULT),
    Runtime(CUSTOM_CONTAINER, "container"),
)}


def python_runtime(name: str) -> Runtime:
    """The Python runtime whose image `name` runs on (itself, for a Python runtime)."""
    runtime = RUNTIMES[name]
    return RUNTIMES[runtime.image_of] if runtime.image_of else runtime


def image_runtimes() -> list[Runtime]:
    """The runtimes that have an image of their own (the Python ones), the default first."""
    return sorted((r for r in RUNTIMES.values() if r.kind == "python"), key=lambda r: r.name != DEFAULT)


NEAREST_PYTHON = {"3.9": "python3.11", "3.10": "python3.11", "3.11": "python3.11", "3.12": "python3.13",
                  "3.13": "python3.13"}
"""A Python version FC's or Lambda's API names -> the runtime its functions run on here: the nearest interpreter not
older than it (code for 3.12 may use syntax 3.11 lacks). Code written for an older 3.x runs on a later one unchanged,
save for modules the later one removed (3.13 removed the "dead batteries" of PEP 594, such as cgi and telnetlib)."""


def nearest(python_name: str) -> str | None:
    """The runtime here of another platform's `pythonX.Y` runtime (None: none runs its code)."""
    return NEAREST_PYTHON.get(python_name.removeprefix("python")) if python_name.startswith("python") else None
