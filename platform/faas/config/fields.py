"""How a setting is declared: one call per field of Settings gives its variable, default, the values it may
take and its line of the README's table, and the dataclass field keeps that declaration in its metadata."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field
from pathlib import Path
from typing import Any

Env = Mapping[str, str]
MB = 1 << 20
_KEY = "faas.setting"


@dataclass(frozen=True)
class Variable:
    """An environment variable as the README's table shows it."""

    name: str
    shown: str
    """Its default, as the table shows it."""
    doc: str
    allowed: str = ""
    """The values it may take (a range, choices), when it is not said in `doc`."""


def _text(var: str, text: str) -> Any:
    return text


def _anything(var: str, value: Any) -> None:
    return None


@dataclass(frozen=True)
class Setting:
    """One field of Settings: read from `var` (`parse` turns its text into the value, `unset` gives the value
    when it is unset, or empty with `blank_is_unset`), then checked (`check` raises ValueError naming `var`),
    as is a value given to from_env directly."""

    var: str
    default: Any
    doc: str
    shown: str
    allowed: str = ""
    parse: Callable[[str, str], Any] = _text
    check: Callable[[str, Any], None] = _anything
    unset: Callable[[Env], Any] | None = None
    blank_is_unset: bool = True
    reader: Callable[[Env], Any] | None = None
    """The whole reading instead, for a value made of several variables (the Redis URL and its password)."""
    also: tuple[Variable, ...] = ()
    """Other variables the reading takes (a token's file), each with its line of the table."""

    def read(self, env: Env) -> Any:
        """The value the environment gives, checked."""
        value = self.reader(env) if self.reader is not None else self._value(env)
        self.verify(value)
        return value

    def verify(self, value: Any) -> None:
        """ValueError, naming the variable, when `value` is not one this setting may take."""
        self.check(self.var, value)

    def _value(self, env: Env) -> Any:
        raw = env.get(self.var)
        if raw is None or (raw == "" and self.blank_is_unset):
            return self.default if self.unset is None else self.unset(env)
        return self.parse(self.var, raw)

    @property
    def variables(self) -> tuple[Variable, ...]:
        return (Variable(self.var, self.shown, self.doc, self.allowed), *self.also)


def setting_of(f: Field[Any]) -> Setting:
    """The declaration of a field of Settings."""
    return f.metadata[_KEY]


def declare(var: str, default: Any, doc: str, *, shown: str | None = None, **how: Any) -> Any:
    """A field of Settings read from `var` (see Setting for `how`); the table shows `shown`, else the default."""
    if shown is None:
        shown = "none" if default in (None, "", ()) else f"`{default}`"
    return field(default=default, metadata={_KEY: Setting(var, default, doc, shown, **how)})


def within(low: float, high: float, scale: int = 1, unit: str = "") -> Callable[[str, Any], None]:
    """A check that a value, in units of `scale`, is from `low` to `high`; NaN and infinities fail it too."""
    def check(var: str, value: Any) -> None:
        shown = value if scale == 1 else value / scale
        if not low <= shown <= high:
            raise ValueError(f"{var} must be at least {low} and at most {high}{unit}, not {shown!r}")
    return check


def as_integer(var: str, text: str) -> int:
    """The text of `var` as an int; ValueError, naming it, when it is not one."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{var} must be an integer, not {text!r}") from None


def _float(var: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{var} must be a number, not {text!r}") from None


def integer(var: str, default: int, low: int, high: int, doc: str, *, shown: str | None = None,
            parse: Callable[[str, str], int] = as_integer, unset: Callable[[Env], int] | None = None) -> int:
    """An integer setting, from `low` to `high`."""
    return declare(var, default, doc, shown=str(default) if shown is None else shown, allowed=f"{low} to {high}",
                   parse=parse, check=within(low, high), unset=unset)


def number(var: str, default: float, low: float, high: float, doc: str) -> float:
    """A setting that may have a fraction (seconds), from `low` to `high`."""
    return declare(var, default, doc, shown=f"{default:g}", allowed=f"{low:g} to {high:g}", parse=_float,
                   check=within(low, high))


_MB_RANGE = within(1, 1 << 20, MB, " (MB)")


def _megabytes(var: str, text: str) -> int:
    value = _float(var, text) * MB
    _MB_RANGE(var, value)  # before int(), which NaN or an infinity would fail without the variable's name
    return int(value)


def megabytes(var: str, default_mb: int, doc: str) -> int:
    """A size given in MB (a fraction is fine), from 1 MB to 1 TB, kept in bytes."""
    return declare(var, default_mb * MB, doc, shown=str(default_mb), allowed="1 to 1048576 (1 TB)", parse=_megabytes,
                   check=_MB_RANGE)


def text(var: str, default: str, doc: str, **how: Any) -> str:
    """A string setting; set but empty, it is the empty string."""
    return declare(var, default, doc, blank_is_unset=False, **how)


def matching(pattern: re.Pattern[str], rule: str) -> Callable[[str, Any], None]:
    """A check that a string matches a compiled `pattern` whole; `rule` says what that means."""
    def check(var: str, value: Any) -> None:
        if not pattern.fullmatch(value):
            raise ValueError(f"{var} must be {rule}")
    return check


def choice(var: str, default: str, choices: tuple[str, ...] | list[str], doc: str) -> str:
    """One of `choices`; empty is the default."""
    def check(var: str, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{var} must be one of {', '.join(choices)}")
    return declare(var, default, doc, allowed=", ".join(f"`{c}`" for c in choices), check=check)


def _path(var: str, text: str) -> Path:
    return Path(text)


def path(var: str, default: Path | None, doc: str, **how: Any) -> Any:
    """A path setting; empty is the default."""
    return declare(var, default, doc, parse=_path, **how)
