import base64
import io
import stat
import zipfile

import pytest

from faas import defaults
from faas.builder.archive import check_handlers, check_syntax, decode_zip, read_zip
from faas.errors import BuildFailed, InvalidArgument, PayloadTooLarge
from helpers import make_zip


def _zip_with(infos: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in infos:
            zf.writestr(info, data)
    return buf.getvalue()


def test_reads_files_and_skips_directories():
    raw = make_zip({"index.py": "x = 1\n", "lib/__init__.py": "", "lib/util.py": "y = 2\n"})
    code = read_zip(raw)
    assert code.paths() == {"index.py", "lib/__init__.py", "lib/util.py"}
    assert code.get("index.py") == b"x = 1\n"
    assert code.has_module("index") and code.has_module("lib") and code.has_module("lib.util")
    assert not code.has_module("missing")


def test_digest_is_of_content_not_of_the_zip():
    a = read_zip(make_zip({"index.py": "x = 1\n", "b.txt": "b"}))
    b = read_zip(make_zip({"b.txt": "b", "index.py": "x = 1\n"}))
    c = read_zip(make_zip({"index.py": "x = 2\n", "b.txt": "b"}))
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil.py", "a/../../evil.py", "C:/x.py", "a\\b.py"])
def test_refuses_paths_that_leave_the_code_directory(name):
    with pytest.raises(InvalidArgument):
        read_zip(_zip_with([(zipfile.ZipInfo(name), b"x")]))


def test_refuses_symlinks():
    info = zipfile.ZipInfo("link.py")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(InvalidArgument, match="symbolic link"):
        read_zip(_zip_with([(info, b"/etc/passwd")]))


def test_keeps_executable_bit():
    info = zipfile.ZipInfo("run.sh")
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    code = read_zip(_zip_with([(info, b"#!/bin/sh\n"), (zipfile.ZipInfo("index.py"), b"")]))
    assert {f.path: f.executable for f in code.files} == {"run.sh": True, "index.py": False}


def test_refuses_duplicates():
    raw = _zip_with([(zipfile.ZipInfo("index.py"), b"a"), (zipfile.ZipInfo("./index.py"), b"b")])
    with pytest.raises(InvalidArgument, match="twice"):
        read_zip(raw)


@pytest.mark.parametrize("raw", [b"", b"not a zip at all", make_zip({"a.py": "x"})[:-30]],
                         ids=["empty", "text", "cut-short"])  # (a zip holds its time: ids stable across processes)
def test_refuses_corrupt_zips(raw):
    with pytest.raises(InvalidArgument):
        read_zip(raw)


def test_refuses_an_empty_zip():
    with pytest.raises(InvalidArgument, match="no files"):
        read_zip(make_zip({}))


def test_refuses_zip_bombs(monkeypatch):
    monkeypatch.setattr(defaults, "CODE_UNZIPPED_BYTES", 1000)
    with pytest.raises(PayloadTooLarge, match="unzips to more"):  # a size limit: 413
        read_zip(make_zip({"big.txt": b"0" * 5000}))


@pytest.mark.parametrize("value", [None, 5, "", "not base64!!", "YWJj$"])
def test_decode_refuses_bad_base64(value):
    with pytest.raises(InvalidArgument):
        decode_zip(value)


def test_decode_refuses_oversized(monkeypatch):
    monkeypatch.setattr(defaults, "CODE_ZIP_BYTES", 100)
    with pytest.raises(PayloadTooLarge):
        decode_zip(base64.b64encode(b"x" * 200).decode())


def test_check_handlers_names_the_missing_file():
    code = read_zip(make_zip({"main.py": "def handler(e, c): pass\n"}))
    check_handlers(code, "main.handler", None)
    with pytest.raises(InvalidArgument, match="index.py"):
        check_handlers(code, "index.handler")


def test_check_syntax_reports_file_and_line():
    code = read_zip(make_zip({"ok.py": "x = 1\n", "index.py": "def handler(e, c):\n    return (\n"}))
    with pytest.raises(BuildFailed) as info:
        check_syntax(code)
    assert "index.py, line 2" in info.value.message
    assert "return (" in info.value.details["log"]


def test_check_syntax_ignores_non_python_files():
    check_syntax(read_zip(make_zip({"index.py": "x = 1\n", "data.txt": "def ("})))


def _prepare(raw: bytes, tmp_path, cache_tag: str | None = None):
    from faas.builder.prepare import prepare

    return prepare(base64.b64encode(raw).decode(), tmp_path, "rt:1", {"faas.function": "f"}, None, cache_tag)


def test_prepare_streams_the_same_content_as_read_zip(tmp_path):
    import tarfile

    raw = make_zip({"index.py": "x = 1\n", "lib/data.bin": b"\x00\x01" * 5000, "requirements.txt": "six\n"})
    answer = _prepare(raw, tmp_path)
    assert answer["sha256"] == read_zip(raw).sha256 and answer["syntax"] is None
    assert sorted(answer["paths"]) == ["index.py", "lib/data.bin", "requirements.txt"]
    with tarfile.open(answer["context"]) as tar:
        assert tar.extractfile("code/lib/data.bin").read() == b"\x00\x01" * 5000
        assert tar.extractfile("requirements.txt").read() == b"six\n"
        assert "pip install" in tar.extractfile("Dockerfile").read().decode()


def test_prepare_reports_the_first_syntax_error(tmp_path):
    answer = _prepare(make_zip({"index.py": "def handler(e, c):\n    return (\n"}), tmp_path)
    message, log = answer["syntax"]
    assert message.startswith("SyntaxError in index.py, line 2") and "return (" in log


def test_prepare_refuses_what_read_zip_refuses(tmp_path, monkeypatch):
    with pytest.raises(InvalidArgument, match="symbolic link"):
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        _prepare(_zip_with([(info, b"/etc/passwd")]), tmp_path)
    monkeypatch.setattr(defaults, "CODE_UNZIPPED_BYTES", 1000)
    with pytest.raises(PayloadTooLarge, match="unzips to more"):
        _prepare(make_zip({"big.txt": b"0" * 5000}), tmp_path)


def test_prepare_compiles_the_code_for_a_runtime_of_its_own_python(tmp_path):
    """The byte code goes into the context (checked-hash .pyc files, where the interpreter looks), the image
    compiles nothing, and the interpreter loads the code from it; a .pyc of the zip in the way is replaced."""
    import subprocess
    import sys
    import tarfile

    tag = sys.implementation.cache_tag
    raw = make_zip({"index.py": "def handler(e, c):\n    return 'from byte code'\n", "lib/util.py": "y = 2\n",
                    f"__pycache__/index.{tag}.pyc": b"stale", "data.txt": "x"})
    answer = _prepare(raw, tmp_path, cache_tag=tag)
    assert answer["sha256"] == read_zip(raw).sha256 and answer["syntax"] is None
    assert sorted(answer["paths"]) == [f"__pycache__/index.{tag}.pyc", "data.txt", "index.py", "lib/util.py"]
    with tarfile.open(answer["context"]) as tar:
        names = tar.getnames()
        assert names.count(f"code/__pycache__/index.{tag}.pyc") == 1 and f"code/lib/__pycache__/util.{tag}.pyc" in names
        dockerfile = tar.extractfile("Dockerfile").read().decode()
        assert "RUN" not in dockerfile and "COPY code/ /code/" in dockerfile
        tar.extractall(tmp_path / "out", filter="data")
    code = tmp_path / "out" / "code"
    assert (code / "__pycache__" / f"index.{tag}.pyc").read_bytes()[4:8] == (0b11).to_bytes(4, "little")
    out = subprocess.run([sys.executable, "-v", "-c", "import index, lib.util; print(index.handler(0, 0))"],
                         cwd=code, capture_output=True, text=True, env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert out.stdout == "from byte code\n", out.stderr[-2000:]
    assert f"code object from '{code}/__pycache__/index.{tag}.pyc'" in out.stderr
    assert f"code object from '{code}/lib/__pycache__/util.{tag}.pyc'" in out.stderr


def test_prepare_leaves_compiling_to_the_image_for_another_python(tmp_path):
    import tarfile

    for cache_tag in (None, "cpython-27"):
        (tmp_path / str(cache_tag)).mkdir()
        answer = _prepare(make_zip({"index.py": "x = 1\n"}), tmp_path / str(cache_tag), cache_tag=cache_tag)
        with tarfile.open(answer["context"]) as tar:
            assert not [n for n in tar.getnames() if n.endswith(".pyc")]
            assert "RUN python3 -m compileall -q /code" in tar.extractfile("Dockerfile").read().decode()
