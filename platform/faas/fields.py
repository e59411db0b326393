"""Value objects whose fields declare their API form: a field's camelCase name, its parser (which checks it, and may
look at the fields declared before it) and how it is written. FunctionSpec and its parts (faas.models) are such
objects; `read` makes one from the API's JSON, `api_form` writes it back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar

from .errors import InvalidArgument

Parse = Callable[[Any, str, dict[str, Any]], Any]
"""A field's parser: (its JSON value, its API name for messages, the object's values so far) -> its value, or
InvalidArgument. The values so far are those of the fields declared before it as read, its own and later ones as
they were (the object's being updated, or the defaults)."""


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class ApiField:
    """A field's form in the API's JSON: its camelCase name, how it is read (and checked), how it is written."""

    key: str
    parse: Parse
    dump: Callable[[Any], Any] = _same


def api(key: str, parse: Parse, dump: Callable[[Any], Any] = _same) -> dict[str, ApiField]:
    """The `dataclasses.field` metadata that declares a field's API form."""
    return {"api": ApiField(key, parse, dump)}


_DECLARED: dict[type, tuple[tuple[str, ApiField], ...]] = {}
"""Each value object's api_fields, read once from its dataclass fields."""


def api_fields(cls: type) -> tuple[tuple[str, ApiField], ...]:
    """(attribute, API form) of each field of `cls`, in declaration order: the order they are read and written."""
    found = _DECLARED.get(cls)
    if found is None:
        found = _DECLARED[cls] = tuple((f.name, f.metadata["api"]) for f in fields(cls))
    return found


def api_keys(cls: type) -> frozenset[str]:
    return frozenset(spec.key for _, spec in api_fields(cls))


def api_form(obj: Any) -> dict[str, Any]:
    """The API form of a value object whose fields declare theirs."""
    return {spec.key: spec.dump(getattr(obj, attr)) for attr, spec in api_fields(type(obj))}


_T = TypeVar("_T")


def read(cls: type[_T], data: dict, base: _T | None, where: str, prefix: str = "",
          body_only: frozenset[str] = frozenset()) -> _T:
    """A `cls` from the API form `data`. A field `data` leaves out has its value in `base` (or its default; None if
    it has none, which its parser refuses) parsed again: what a field may be can depend on the fields before it."""
    unknown = sorted(set(data) - api_keys(cls) - body_only)
    if unknown:
        raise InvalidArgument(f"unknown field(s) in {where}: {', '.join(unknown)}")
    values = _values(base) if base is not None else _defaults(cls)
    for attr, spec in api_fields(cls):
        values[attr] = spec.parse(data.get(spec.key, values[attr]), prefix + spec.key, values)
    return cls(**values)


def _values(obj: Any) -> dict[str, Any]:
    return {attr: getattr(obj, attr) for attr, _ in api_fields(type(obj))}


def _defaults(cls: type) -> dict[str, Any]:
    return {f.name: f.default if f.default is not MISSING
            else f.default_factory() if f.default_factory is not MISSING else None for f in fields(cls)}


def whole(value: Any, key: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{key} must be an integer")
    low, high = bounds
    if not low <= value <= high:
        raise InvalidArgument(f"{key} must be between {low} and {high}, not {value}")
    return value


def integer(bounds: tuple[int, int], nullable: bool = False) -> Parse:
    """An integer within `bounds` (both included); with `nullable`, null as well."""
    def parse(value: Any, key: str, _values: dict[str, Any]) -> int | None:
        return None if value is None and nullable else whole(value, key, bounds)
    return parse
