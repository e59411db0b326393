"""The README's table of variables, printed from the declarations (`python -m faas.config --markdown`); a
unit test checks that the README holds it as printed."""

from __future__ import annotations

from .fields import Variable
from .settings import declarations

MARKER = "<!-- printed by `python -m faas.config --markdown`; tests/unit/test_config.py checks it -->"
"""The line above the table in the README."""

SCRIPT_ONLY = (
    Variable("FAAS_REDIS_MAXMEMORY_MB", "2048", "`maxmemory` of the private Redis (`scripts/up`, compose, Swarm), "
             "with `noeviction`"),
    Variable("FAAS_VAR_DIR", "`var/`", "logs and Redis data of the scripts"),
    Variable("FAAS_VENV", "`.venv/`", "the scripts' virtual environment"),
)
"""Variables that only the scripts and deployments read, at the end of the table."""


def variables() -> list[Variable]:
    """Every variable of the table, in its order: the settings' (each with those its reading also takes),
    then the scripts'."""
    return [v for setting in declarations().values() for v in setting.variables] + list(SCRIPT_ONLY)


def markdown() -> str:
    """The table, one line per variable."""
    lines = ["| variable | default | allowed | meaning |", "|---|---|---|---|"]
    lines += [f"| `{v.name}` | {_cell(v.shown)} | {_cell(v.allowed)} | {_cell(v.doc)} |" for v in variables()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
