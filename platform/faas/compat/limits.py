"""The platform's limits under the surfaces' own names for them."""

from __future__ import annotations

from typing import Any

from .. import defaults
from ..errors import InvalidArgument


def max_instances(value: Any, field: str, provider: str) -> int:
    """A surface's reserved concurrency (`field`) as the function's `maxInstances`: the most containers it runs at
    once, each serving `instanceConcurrency` calls. 0, which stops a function on `provider`, is refused."""
    low, high = defaults.MAX_INSTANCES_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{field} must be a whole number from {low} to {high} here (it is the function's "
                              f"maxInstances; 0, which stops a function on {provider}, is not supported)")
    return value
