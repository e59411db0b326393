import io
import tarfile

from faas.builder.archive import read_zip
from faas.builder.context import function_context, function_dockerfile, function_tag
from faas.docker_host import cpu_limits
from helpers import make_zip


def test_tag_carries_a_digest_of_code_and_inputs():
    a = read_zip(make_zip({"index.py": "x = 1\n"}))
    b = read_zip(make_zip({"index.py": "x = 2\n"}))
    a, b = a.sha256, b.sha256
    assert function_tag("f", "p", a, "sha256:r1") == function_tag("f", "p", a, "sha256:r1")
    assert function_tag("f", "p", a, "sha256:r1") != function_tag("f", "p", b, "sha256:r1")
    assert function_tag("f", "p", a, "sha256:r1") != function_tag("f", "p", a, "sha256:r2")
    assert function_tag("f", "p", a, "sha256:r1").startswith("faas-fn-f:p-")


def test_context_holds_dockerfile_code_and_requirements():
    code = read_zip(make_zip({"index.py": "x = 1\n", "requirements.txt": "six\n"}))
    tar = tarfile.open(fileobj=io.BytesIO(function_context(code, "rt:1", {"faas.function": "f"})))
    names = set(tar.getnames())
    assert {"Dockerfile", "requirements.txt", "code/index.py", "code/requirements.txt"} <= names
    dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert dockerfile.startswith("FROM rt:1\n") and "pip install" in dockerfile
    assert 'LABEL faas.function="f"' in dockerfile
    assert dockerfile.strip().splitlines()[-2] == "USER 10001:10001"


def test_context_is_reproducible():
    code = read_zip(make_zip({"index.py": "x = 1\n"}))
    assert function_context(code, "rt:1", {}) == function_context(code, "rt:1", {})
    assert "pip install" not in function_dockerfile("rt:1", False, {})


def test_cpu_in_proportion_to_memory():
    small_shares, small_cpus = cpu_limits(128)
    big_shares, big_cpus = cpu_limits(2048)
    assert small_shares * 16 == big_shares
    assert small_cpus == 1_000_000_000 and big_cpus >= small_cpus


def test_every_layer_after_the_base_is_the_platforms_own():
    """The platform's label comes right after FROM: two platforms' builds share no cached layer, so one's image
    clean-up cannot prune a layer the other's build is using."""
    lines = function_dockerfile("rt:1", True, {"faas.platform": "p1", "faas.function": "f"}).splitlines()
    assert lines[:2] == ["FROM rt:1", 'LABEL faas.platform="p1"']
    other = function_dockerfile("rt:1", True, {"faas.platform": "p2", "faas.function": "f"}).splitlines()
    assert other[1] == 'LABEL faas.platform="p2"'
