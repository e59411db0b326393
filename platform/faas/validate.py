"""Identifiers that more than one part of the platform takes from a request (the API, the node agent): each
checked by one definition, so that no two parts accept different things."""

from __future__ import annotations

import re

from . import defaults

REQUEST_ID_RE = re.compile(f"^{defaults.REQUEST_ID}$")
"""A request id (X-Fc-Request-Id, or in a path): 1-64 letters, digits or '-'."""

TRIGGER_LABEL_RE = re.compile(f"(?:http|timer|queue)/{defaults.TRIGGER_NAME_PATTERN}")
"""X-Faas-Trigger: the trigger an async worker's invocation comes from, for its REPORT line."""
