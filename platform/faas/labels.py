"""The labels that mark what the platform made in Docker (containers, images, its network), and the filters
that find them. Plain names, no client: the log collector and faas-up find function containers with them."""

from __future__ import annotations

LABEL_PLATFORM = "faas.platform"
LABEL_FUNCTION = "faas.function"
LABEL_REVISION = "faas.version"
"""The revision of LATEST a container runs (its name from before versions existed)."""
LABEL_VERSION_ID = "faas.version-id"
"""LATEST or a published version's id; absent on containers from before versions existed (LATEST)."""
LABEL_FUNCTION_ID = "faas.function-id"
LABEL_CONFIG = "faas.config"
"""A digest of what a function container is told (pool.container.config_digest): a container of an older
revision whose digest is the current one's runs what the current one would."""
LABEL_PYTHON_CACHE_TAG = "faas.python-cache-tag"
"""On the runtime image: its Python's `sys.implementation.cache_tag` (`cpython-311`), the name of its byte code."""
LABEL_LAYER = "faas.layer"
"""On a layer's image: the layer's name."""
LABEL_ROLE = "faas.role"
"""What a labelled object is: ROLE_FUNCTION, `function-image`, `network`, or a base image's role."""
ROLE_FUNCTION = "function"
"""The role of a function container."""
ROLE_CELL = "cell"
"""The role of a cell: a started runtime container waiting for a function (faas.cells)."""
ROLE_UNPACK = "unpack"
"""The role of a container made (never started) to copy a function image's files out."""
ROLE_LAYER_STAGE = "layer-stage"
"""The role of the images of a layer build's compile stages (removed once the layer's image is built)."""
CONTAINER_ROLES = (ROLE_FUNCTION, ROLE_CELL, ROLE_UNPACK)
"""The roles of the containers a platform makes (and removes when they are left behind)."""


def function_filter(platform_id: str, function: str | None = None, version_id: str | None = None) -> dict[str, str]:
    """The labels of the function containers of platform `platform_id` (of one function, if named, and one of
    its versions, if named)."""
    labels = {LABEL_PLATFORM: platform_id, LABEL_ROLE: ROLE_FUNCTION}
    if function is not None:
        labels[LABEL_FUNCTION] = function
    if version_id is not None:
        labels[LABEL_VERSION_ID] = version_id
    return labels


def label_filter(labels: dict[str, str]) -> list[str]:
    """Docker's `label` filter for objects that carry all of `labels`."""
    return [f"{k}={v}" for k, v in labels.items()]
