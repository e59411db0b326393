"""Settings, read once from FAAS_* environment variables."""

from __future__ import annotations

from .settings import REPO_ROOT, ROLES, Settings
from .validators import NODE_ID_RE, PLATFORM_ID_RE, is_node_id, parse_address, parse_sentinels

__all__ = ["NODE_ID_RE", "PLATFORM_ID_RE", "REPO_ROOT", "ROLES", "Settings", "is_node_id", "parse_address",
           "parse_sentinels"]
