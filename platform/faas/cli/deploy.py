"""faasctl deploy: create or update a function from a directory, its spec file and its triggers."""

from __future__ import annotations

import base64
import io
import os
import sys
import threading
import time
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .. import defaults
from ..builder.archive import read_zip
from ..errors import FaasError
from . import output as out
from .client import Client
from .command import CommandError, Subparsers
from .layers import spec_layers

SPEC_FILE = "faas.toml"
"""The function's spec inside a directory deployed with `faasctl deploy DIR` (the API's camelCase fields)."""


SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".pytest_cache", ".mypy_cache"}


SKIP_SUFFIXES = (".pyc", ".pyo")


def zip_directory(directory: Path) -> bytes:
    """The code of `directory` as a zip: everything but the spec file, caches and version control."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                path = Path(root) / name
                rel = path.relative_to(directory).as_posix()
                if rel == SPEC_FILE or name.endswith(SKIP_SUFFIXES) or path.is_symlink():
                    continue
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def read_spec(directory: Path, args) -> dict:
    spec: dict = {}
    path = directory / SPEC_FILE
    if path.is_file():
        try:
            spec = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from None
    overrides = {"name": args.name, "handler": args.handler, "initializer": args.initializer,
                 "memoryMB": args.memory, "timeoutSeconds": args.timeout, "reservedInstances": args.reserved,
                 "instanceConcurrency": args.concurrency, "maxInstances": args.max_instances,
                 "keepAliveSeconds": args.keep_alive, "keepAlivePolicy": args.keep_alive_policy}
    spec.update({k: v for k, v in overrides.items() if v is not None})
    if args.env:
        environment = dict(spec.get("environment") or {})
        for item in args.env:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--env takes KEY=VALUE, not {item!r}")
            environment[key] = value
        spec["environment"] = environment
    if "name" not in spec:
        spec["name"] = directory.resolve().name.lower().replace("_", "-")
    return spec


def spec_triggers(spec: dict, path: Path) -> list[dict] | None:
    """Take the `[[triggers]]` tables out of a spec (the function API does not know them); None when the
    file lists none."""
    triggers = spec.pop("triggers", None)
    if triggers is None:
        return None
    if not isinstance(triggers, list) or not all(isinstance(t, dict) and "triggerName" in t for t in triggers):
        raise CommandError(f"{path}: triggers must be [[triggers]] tables, each with triggerName and triggerType")
    return triggers


def sync_triggers(client: Client, name: str, wanted: list[dict]) -> list[str]:
    """Make the function's triggers those of its spec file: create, update, delete. What was done."""
    current = {t["triggerName"]: t for t in client.json("GET", f"/v1/functions/{name}/triggers")["triggers"]}
    done = []
    for trigger in wanted:
        tname = trigger["triggerName"]
        have = current.pop(tname, None)
        if have is None:
            client.call("POST", f"/v1/functions/{name}/triggers", ok=(201,), json=trigger)
            done.append(f"trigger {tname} created")
        elif have["triggerType"] != trigger.get("triggerType"):
            client.call("DELETE", f"/v1/functions/{name}/triggers/{tname}", ok=(204,))
            client.call("POST", f"/v1/functions/{name}/triggers", ok=(201,), json=trigger)
            done.append(f"trigger {tname} replaced")
        else:
            fields = ("triggerConfig", "description", "qualifier")
            update = {k: v for k, v in trigger.items() if k in fields}
            result = client.json("PUT", f"/v1/functions/{name}/triggers/{tname}", json=update)
            if any(result.get(k) != have.get(k) for k in fields):
                done.append(f"trigger {tname} updated")
    for tname in current:
        client.call("DELETE", f"/v1/functions/{name}/triggers/{tname}", ok=(204,))
        done.append(f"trigger {tname} deleted")
    return done


def _changed(spec: dict, remote: dict) -> list[str]:
    """The spec fields whose value differs from the deployed function's."""
    changed = []
    for key, value in spec.items():
        current = remote.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            if any(current.get(k) != v for k, v in value.items()):
                changed.append(key)
        elif current != value:
            changed.append(key)
    return changed


class Progress:
    """A live line on a terminal (what, and the seconds so far) while a request runs."""

    def __init__(self, text: str):
        self.text, self._stop = text, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        if out.is_tty(sys.stderr):
            self._thread.start()
        else:
            print(f"{self.text}...", file=sys.stderr)
        return self

    def _run(self):
        t0, frames, i = time.monotonic(), "|/-\\", 0
        while not self._stop.wait(0.1):
            sys.stderr.write(f"\r{frames[i % 4]} {self.text} {time.monotonic() - t0:5.1f}s")
            sys.stderr.flush()
            i += 1

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def cmd_deploy(client: Client, args) -> int:
    directory = Path(args.dir)
    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory")
    spec = read_spec(directory, args)
    triggers = spec_triggers(spec, directory / SPEC_FILE)
    if "layers" in spec:
        spec["layers"] = spec_layers(client, spec, directory, directory / SPEC_FILE)
    raw = zip_directory(directory)
    try:
        digest = read_zip(raw).sha256
    except FaasError as exc:
        raise CommandError(f"{directory}: {exc.message}") from None
    name = spec["name"]
    existing = client.call("GET", f"/v1/functions/{name}", ok=(200, 404))
    body = spec | {"code": {"zipFile": base64.b64encode(raw).decode()}}
    t0 = time.monotonic()
    if existing.status_code == 404:
        with Progress(f"Creating {name} (building its image)"):
            result = client.json("POST", "/v1/functions", ok=(201,), json=body)
        action, built = "created", True
    else:
        remote = existing.json()
        changed = _changed(spec, remote)
        if remote.get("codeSha256") == digest and not changed:
            synced = sync_triggers(client, name, triggers) if triggers is not None else []
            return _report(args, remote, "unchanged", False, triggers=synced)
        built = remote.get("codeSha256") != digest
        if not built:
            body.pop("code")  # config only: no build
        body.pop("name", None)
        with Progress(f"Updating {name}" + (" (building its image)" if built else "")):
            result = client.json("PUT", f"/v1/functions/{name}", json=body)
        action = "updated"
    synced = sync_triggers(client, name, triggers) if triggers is not None else []
    return _report(args, result, action, built, time.monotonic() - t0, synced)


def _report(args, fn: dict, action: str, built: bool, seconds: float = 0.0, triggers: Sequence[str] = ()) -> int:
    if args.json:
        out.print_json({"action": action, "function": fn} | ({"triggers": list(triggers)} if triggers else {}))
        return 0
    for line in triggers:
        print(f"{fn['name']}: {line}")
    build = fn.get("lastBuild") or {}
    detail = f"revision {fn['revision']}, image {fn['image']}"
    if built:
        detail += f", build {build.get('status')} in {build.get('durationMs', 0) / 1000:.1f}s"
    detail += f" ({seconds:.1f}s)" if seconds else ""
    print(f"{out.color(action, out.GREEN)} {fn['name']}: {detail}")
    return 0


def register(sub: Subparsers) -> None:
    d = sub.add_parser("deploy", help=f"create or update a function from a directory (spec in {SPEC_FILE})")
    d.add_argument("dir")
    d.add_argument("--name")
    d.add_argument("--handler")
    d.add_argument("--initializer")
    d.add_argument("--memory", type=int, help="memoryMB")
    d.add_argument("--timeout", type=int, help="timeoutSeconds")
    d.add_argument("--reserved", type=int, help="reservedInstances")
    d.add_argument("--concurrency", type=int, help="instanceConcurrency")
    d.add_argument("--max-instances", type=int, help="maxInstances")
    d.add_argument("--keep-alive", type=int, help="keepAliveSeconds")
    d.add_argument("--keep-alive-policy", choices=defaults.KEEP_ALIVE_POLICIES, help="keepAlivePolicy")
    d.add_argument("--env", action="append", metavar="KEY=VALUE", help="an environment variable (repeatable)")
    d.set_defaults(func=cmd_deploy)
