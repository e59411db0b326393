"""Docker, for every part of the platform: the labels that mark what it made, and the clients.

`DockerHost` is the control plane's access to its engine (builds, function containers, events); its
blocking SDK calls run in a bounded thread pool. The log collector process and `faas-up` (which removes the
containers a killed control plane left) make their own clients here with `make_client`, and find function
containers by `function_filter`.

`faas/labels.py` names the labels (outside this package: the build's prepare child reads them without
importing the Docker SDK); `engine.py` holds the connection and its thread pool; `images.py` and
`containers.py` what the platform does with each.
"""

from __future__ import annotations

from ..labels import (
    CONTAINER_ROLES,
    LABEL_CONFIG,
    LABEL_FUNCTION,
    LABEL_FUNCTION_ID,
    LABEL_PLATFORM,
    LABEL_PYTHON_CACHE_TAG,
    LABEL_REVISION,
    LABEL_ROLE,
    LABEL_VERSION_ID,
    ROLE_CELL,
    ROLE_FUNCTION,
    ROLE_UNPACK,
    function_filter,
    label_filter,
)
from .containers import (
    ContainerConfig,
    ContainerHost,
    ContainerStatus,
    StartedContainer,
    cpu_limits,
    is_running,
    kill_leftovers,
    scratch_sizes,
)
from .engine import docker_time, make_client
from .images import BuildResult, ImageHost, Unpack


class DockerHost(ImageHost, ContainerHost):
    """The control plane's engine: its images and its function containers, over one client and thread pool."""


__all__ = [
    "CONTAINER_ROLES", "LABEL_CONFIG", "LABEL_FUNCTION", "LABEL_FUNCTION_ID", "LABEL_PLATFORM",
    "LABEL_PYTHON_CACHE_TAG", "LABEL_REVISION", "LABEL_ROLE", "LABEL_VERSION_ID", "ROLE_CELL",
    "ROLE_FUNCTION", "ROLE_UNPACK",
    "BuildResult", "ContainerConfig", "ContainerStatus", "DockerHost", "StartedContainer", "Unpack",
    "cpu_limits", "docker_time", "function_filter", "is_running", "kill_leftovers", "label_filter", "make_client",
    "scratch_sizes",
]
