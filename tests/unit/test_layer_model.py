"""Layers' pure parts: references in a spec, publish bodies, and the merge of layers' files into one view."""

import os

import pytest

from faas.cells.files import link_tree
from faas.errors import InvalidArgument
from faas.layers.model import LayerVersion, check_publish, check_refs, parse_ref


def test_references_name_a_version_or_a_layer_alone():
    assert parse_ref("numpy:3") == ("numpy", 3) and parse_ref("numpy") == ("numpy", None)
    assert check_refs(["a:1", "b", "c:2"], "layers") == ("a:1", "b", "c:2") and check_refs(None, "layers") == ()
    for bad in ("numpy:0", "numpy:01", "Numpy:1", "numpy:1\n", "numpy:", ":1", "a:b", "a:1:2", "../a:1", "a b:1",
                "a:" + "9" * 11, "-a:1", "", 5, None, ["a:1"], "arn:aws:lambda:us-east-1:1:layer:a:1"):
        with pytest.raises(InvalidArgument, match="not a layer version"):
            parse_ref(bad)
    with pytest.raises(InvalidArgument, match="more than 5"):
        check_refs([f"l{i}:1" for i in range(6)], "layers")
    with pytest.raises(InvalidArgument, match="more than once"):
        check_refs(["a:1", "a:2"], "layers")
    with pytest.raises(InvalidArgument, match="must be a list"):
        check_refs("a:1", "layers")


def test_publish_bodies():
    assert check_publish({"code": {"zipFile": "UEs="}}) == ("UEs=", "", None)
    assert check_publish({"code": {"zipFile": "x"}, "description": "d", "compatibleRuntimes": ["python3.13"]}) == \
        ("x", "d", ("python3.13",))
    for body, match in (([], "JSON object"), ({"code": {"zipFile": "x"}, "license": "MIT"}, "unknown"),
                        ({"code": "x"}, "zipFile"), ({"code": {"zipFile": "x", "ossBucketName": "b"}}, "zipFile"),
                        ({"code": {"zipFile": "x"}, "description": 5}, "description"),
                        ({"code": {"zipFile": "x"}, "compatibleRuntimes": ["custom-container"]}, "compatibleRuntimes"),
                        ({"code": {"zipFile": "x"}, "compatibleRuntimes": ["python3.11", "python3.11"]}, "distinct"),
                        ({"code": {"zipFile": "x"}, "compatibleRuntimes": "python3.11"}, "compatibleRuntimes")):
        with pytest.raises(InvalidArgument, match=match):
            check_publish(body)


def test_a_layer_version_round_trips_through_json():
    layer = LayerVersion(name="n", version=2, description="d", compatible_runtimes=("python3.11",),
                         code_sha256="0" * 64, code_size=10, image="faas-layer-n:x", created_at=1.0)
    assert LayerVersion.from_json(layer.to_json()) == layer and layer.ref == "n:2"
    assert layer.to_api()["compatibleRuntimes"] == ["python3.11"]


def test_a_later_layer_replaces_an_earlier_ones_entries_never_following_links(tmp_path):
    first, second, view = tmp_path / "a", tmp_path / "b", tmp_path / "view"
    for d in (first / "python" / "pkg", second / "python", first / "lib", view):
        d.mkdir(parents=True, exist_ok=True)
    (first / "python" / "common.py").write_text("a")
    (first / "python" / "only_a.py").write_text("a")
    (first / "python" / "pkg" / "x.py").write_text("a")
    (first / "lib").rename(first / "lib-dir")
    (first / "lib-dir" / "f").write_text("a")
    os.symlink("/etc", first / "python" / "escape")  # a link: kept as a link, never followed
    (second / "python" / "common.py").write_text("b")
    (second / "python" / "pkg").write_text("now a file")  # a file where a directory was
    (second / "python" / "escape").mkdir()  # a directory where a link was: the link goes, nothing in /etc
    (second / "python" / "escape" / "passwd").write_text("mine")
    (second / "lib-dir").symlink_to("/tmp")  # a link where a directory was
    for layer in (first, second):
        link_tree(layer, view)
    assert (view / "python" / "common.py").read_text() == "b" and (view / "python" / "only_a.py").read_text() == "a"
    assert (view / "python" / "pkg").read_text() == "now a file"
    assert not (view / "python" / "escape").is_symlink() and (view / "python" / "escape" / "passwd").read_text() == \
        "mine"
    assert os.readlink(view / "lib-dir") == "/tmp"
    assert os.stat(view / "python" / "only_a.py").st_ino == os.stat(first / "python" / "only_a.py").st_ino  # a link
    assert (first / "python" / "common.py").read_text() == "a"  # the layers themselves are untouched
