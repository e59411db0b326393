"""Qualifiers: what an invocation, a trigger or a setting names of a function (LATEST, a version id or an alias
name), checked in one place for the releases and the triggers."""

from __future__ import annotations

import re
from typing import Any

from . import defaults
from .errors import InvalidArgument

LATEST = defaults.LATEST
VERSION_RE = re.compile(defaults.VERSION_ID_PATTERN)
ALIAS_RE = re.compile(defaults.ALIAS_NAME_PATTERN)


def is_version_id(qualifier: str) -> bool:
    return bool(VERSION_RE.fullmatch(qualifier))


def check_qualifier(value: Any) -> str:
    """A qualifier from a request: LATEST, a version id (1, 2, ...) or an alias name."""
    if not isinstance(value, str) or not (value == LATEST or VERSION_RE.fullmatch(value)
                                          or ALIAS_RE.fullmatch(value)):
        raise InvalidArgument("qualifier must be LATEST, a version id (1, 2, ...) or an alias name (a letter, then "
                              "up to 127 letters, digits, '_' or '-')")
    return value


def check_version_id(value: Any) -> str:
    if not isinstance(value, str) or not VERSION_RE.fullmatch(value):
        raise InvalidArgument("a version id is a whole number from 1, as a string (such as \"3\")")
    return value


def check_alias_name(value: Any) -> str:
    if not isinstance(value, str) or not ALIAS_RE.fullmatch(value) or value.upper() == LATEST:
        raise InvalidArgument("aliasName must be a letter, then up to 127 letters, digits, '_' or '-', and not "
                              "LATEST")
    return value
