"""The web console: static files from the package, served at /console/.

The files are read once, when the app is made, into a fixed table: a request names one of them or gets the
JSON 404, so no path from a request ever reaches the file system. The console holds no data and has no
endpoints of its own: its script calls the REST API with the token the user gives it, so these files are
served to anyone. A strict Content-Security-Policy lets the page run only its own scripts and talk only to
this origin; what functions print or return is put on the page as text, never as markup.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .middlewares import error_response, role

ROOT = Path(__file__).resolve().parents[1] / "console"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".txt": "text/plain", ".md": "text/plain", ".json": "application/json"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load(root: Path = ROOT) -> dict[str, Asset]:
    """Every regular file under `root` (links are not followed), by its path relative to it."""
    assets: dict[str, Asset] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(root).as_posix()
        body = path.read_bytes()
        kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        assets[rel] = Asset(body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return assets


def add_console_routes(app: web.Application) -> None:
    assets = load()

    @role(None)
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/console/")

    @role(None)
    async def serve(request: web.Request) -> web.Response:
        rel = request.match_info.get("path") or "index.html"
        asset = assets.get(rel)
        if asset is None:
            return error_response(404, "NotFound", "the console has no such file")
        # Revalidated every time (a 304 when unchanged), so an upgraded platform never runs an old script.
        headers = HEADERS | {"ETag": asset.etag, "Cache-Control": "no-cache"}
        if request.headers.get("If-None-Match") == asset.etag:
            return web.Response(status=304, headers=headers)
        charset = "utf-8" if asset.content_type.startswith("text/") or asset.content_type.endswith("json") else None
        return web.Response(body=asset.body, content_type=asset.content_type, charset=charset, headers=headers)

    app.router.add_routes([
        web.get("/console", redirect),
        web.get("/console/", serve),
        web.get("/console/{path:.+}", serve),
    ])
