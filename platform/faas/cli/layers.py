"""faasctl layer publish, list and delete: files published once, seen under /opt by the functions that list them;
and the `[[layers]]` tables of a function's faas.toml, which name layers or publish them from a directory."""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

from ..builder.archive import read_zip
from ..errors import FaasError
from . import output as out
from .client import Client
from .command import CommandError, Subparsers, print_deleted


def _zip(directory: Path) -> tuple[bytes, str]:
    """(the zip of `directory`, the digest of its files as the platform computes it)."""
    from .deploy import zip_directory  # (deploy imports this module)

    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory")
    raw = zip_directory(directory)
    try:
        return raw, read_zip(raw).sha256
    except FaasError as exc:
        raise CommandError(f"{directory}: {exc.message}") from None


def publish(client: Client, name: str, directory: Path, description: str | None = None,
            runtimes: list[str] | None = None) -> dict:
    raw, _ = _zip(directory)
    body: dict = {"code": {"zipFile": base64.b64encode(raw).decode()}}
    if description is not None:
        body["description"] = description
    if runtimes:
        body["compatibleRuntimes"] = runtimes
    return client.json("POST", f"/v1/layers/{name}/versions", ok=(201,), json=body)


def cmd_layer(client: Client, args) -> int:
    command = args.layer_command
    if command == "publish":
        layer = publish(client, args.name, Path(args.dir), args.description, args.runtime)
        if args.json:
            out.print_json(layer)
        else:
            print(f"{out.color('published', out.GREEN)} layer {layer['ref']} ({layer['codeSize']} bytes, for "
                  f"{', '.join(layer['compatibleRuntimes'])})")
        return 0
    if command == "delete":
        client.call("DELETE", f"/v1/layers/{args.name}/versions/{args.version}", ok=(204,))
        print_deleted(args, "layer version", f"{args.name}:{args.version}")
        return 0
    layers = (client.json("GET", f"/v1/layers/{args.name}/versions")["versions"] if args.name
              else client.json("GET", "/v1/layers")["layers"])
    if args.json:
        out.print_json(layers)
        return 0
    out.table(["LAYER", "VERSION", "SIZE", "RUNTIMES", "PUBLISHED", "DESCRIPTION"],
              [[v["layerName"], v["version"], v["codeSize"], ", ".join(v["compatibleRuntimes"]),
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v["createdAt"])), v["description"]]
               for v in layers])
    return 0


def spec_layers(client: Client, spec: dict, directory: Path, path: Path) -> list[str] | None:
    """The `layers` of a faas.toml as the API takes them. `[[layers]]` tables each name a layer (`name`, and
    `version`, else its newest), or a directory to publish it from (`name`, `path` relative to the function's
    directory, and optionally `description` and `compatibleRuntimes`): published as a new version when its files
    differ from the newest version's. A plain list of `name:version` strings is passed as it is."""
    tables = spec.get("layers")
    if tables is None or all(isinstance(t, str) for t in tables if isinstance(tables, list)):
        return tables
    if not isinstance(tables, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                               for t in tables):
        raise CommandError(f"{path}: layers must be [[layers]] tables, each with a name (and a version or a path)")
    refs = []
    for table in tables:
        unknown = sorted(set(table) - {"name", "version", "path", "description", "compatibleRuntimes"})
        if unknown:
            raise CommandError(f"{path}: unknown key(s) in [[layers]] {table['name']}: {', '.join(unknown)}")
        name = table["name"]
        if "path" not in table:
            refs.append(f"{name}:{table['version']}" if "version" in table else name)
            continue
        source = (directory / str(table["path"])).resolve()
        _, digest = _zip(source)
        found = client.call("GET", f"/v1/layers/{name}/versions", ok=(200, 404))
        newest = found.json()["versions"][0] if found.status_code == 200 else None
        if newest is None or newest["codeSha256"] != digest:
            newest = publish(client, name, source, table.get("description"), table.get("compatibleRuntimes"))
            print(f"published layer {newest['ref']} from {table['path']}", file=sys.stderr)  # (stdout: the result)
        refs.append(newest["ref"])
    return refs


def register(sub: Subparsers) -> None:
    ly = sub.add_parser("layer", help="layers: files published once, seen under /opt by the functions that list them")
    lys = ly.add_subparsers(dest="layer_command", required=True)
    lp = lys.add_parser("publish", help="publish the files of DIR as a new version of layer NAME (python/ for "
                                        "importable packages)")
    lp.add_argument("name")
    lp.add_argument("dir")
    lp.add_argument("--description")
    lp.add_argument("--runtime", action="append", metavar="RUNTIME",
                    help="a runtime whose functions may list it (repeat for more; all of them by default)")
    ll = lys.add_parser("list", help="the newest version of every layer, or every version of NAME")
    ll.add_argument("name", nargs="?")
    ld = lys.add_parser("delete", help="delete a layer version (refused while a function version lists it)")
    ld.add_argument("name")
    ld.add_argument("version")
    ly.set_defaults(func=cmd_layer)
