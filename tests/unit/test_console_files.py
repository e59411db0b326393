"""The console's files as the package ships them: vendored libraries as their MANIFEST says, with their
licences; a page that needs nothing the Content-Security-Policy forbids; a script that never turns text
into markup; and the loader that serves them."""

import hashlib
import re
from pathlib import Path

from faas.api import console

ROOT = console.ROOT
VENDOR = ROOT / "vendor"


def test_vendored_files_are_as_the_manifest_says():
    listed = {}
    for line in (VENDOR / "MANIFEST").read_text().splitlines():
        digest, path = line.split("  ", 1)
        listed[path.removeprefix("./")] = digest
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file() and p.name != "MANIFEST"}
    assert set(listed) == present
    for path, digest in listed.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path


def test_each_vendored_package_has_its_licence_and_pinned_version():
    packages = [p for p in VENDOR.iterdir() if p.is_dir()]
    assert {p.name for p in packages} == {"uplot", "fflate"}
    for package in packages:
        assert "MIT License" in (package / "LICENSE").read_text(), package.name
        assert re.fullmatch(rf"{package.name}@\d+\.\d+\.\d+\n", (package / "VERSION").read_text())
    script = Path(__file__).resolve().parents[2] / "scripts" / "vendor-console"
    for package in packages:  # the script that fetched them pins the same versions
        assert (package / "VERSION").read_text().strip() in script.read_text()


def test_the_page_needs_nothing_the_policy_forbids():
    page = (ROOT / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script"
    assert "<style" not in page and " style=" not in page, "inline style"
    assert not re.search(r"\son[a-z]+=", page), "an inline event handler"
    assert "http:" not in page and "https:" not in page, "something from elsewhere"
    for ref in re.findall(r'(?:src|href)="([^"#][^"]*)"', page):
        if not ref.startswith("data:"):
            assert (ROOT / ref).is_file(), ref


def test_the_script_never_writes_markup():
    for path in ROOT.glob("*.js"):
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "localStorage", "document.cookie"):
            assert sink not in text, (path.name, sink)


def test_the_loader_serves_regular_files_only(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.js").write_text("1")
    (tmp_path / ".secret").write_text("no")
    (tmp_path / "link.txt").symlink_to("/etc/passwd")
    (tmp_path / "dirlink").symlink_to("/etc")
    assets = console.load(tmp_path)
    assert set(assets) == {"index.html", "sub/a.js"}
    assert assets["sub/a.js"].content_type == "text/javascript"
    assert assets["index.html"].etag.startswith('"') and len(assets["index.html"].etag) == 34
