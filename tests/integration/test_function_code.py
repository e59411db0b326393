"""A function's code read back as a zip: through /v1 with an admin token, and through the download URL FC 3.0's
and FC 2.0's GetFunctionCode answer (signed, expiring, usable without a key), with forged URLs refused."""

import base64
import io
import zipfile
from urllib.parse import parse_qs, urlencode, urlsplit

import fc2
import pytest
import requests
from alibabacloud_fc20230330 import models as fc
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi.models import Config

from helpers import build_server_image, code_b64, make_access_key

pytestmark = [pytest.mark.docker, pytest.mark.redis]

FILES = {"index.py": "def handler(event, context):\n    return 'v1'\n", "lib/data.txt": "some data\n"}


def files_of(body: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_code_through_v1_and_fc3s_download_url(api, platform, fn_name):
    api.deploy(fn_name, FILES)
    resp = api.request("GET", f"/v1/functions/{fn_name}/code")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/zip"
    assert files_of(resp.content) == FILES  # the byte code compiled at deploy time is left out
    published = api.request("POST", f"/v1/functions/{fn_name}/versions", json={}).json()["versionId"]
    api.update(fn_name, {"index.py": "def handler(event, context):\n    return 'v2'\n"})
    old = api.request("GET", f"/v1/functions/{fn_name}/code", params={"qualifier": published})
    assert files_of(old.content) == FILES
    assert "v2" in files_of(api.request("GET", f"/v1/functions/{fn_name}/code").content)["index.py"]

    key = make_access_key(platform, "admin", "code")
    sdk = Client(Config(access_key_id=key[0], access_key_secret=key[1], endpoint=f"127.0.0.1:{platform.port}",
                        protocol="http"))
    answer = sdk.get_function_code(fn_name, fc.GetFunctionCodeRequest(qualifier=published)).body
    assert answer.checksum
    downloaded = requests.get(answer.url, timeout=60)  # no key, no token: the URL is the credential
    assert downloaded.status_code == 200 and files_of(downloaded.content) == FILES

    parts = urlsplit(answer.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{platform.url}{parts.path}"
    for forged in ({**query, "signature": "0" * 64}, {**query, "expires": str(int(query["expires"]) + 1)},
                   {**query, "qualifier": "LATEST"}, {**query, "expires": "1"}, {**query, "expires": "x"}):
        resp = requests.get(f"{base}?{urlencode(forged)}", timeout=60)
        assert resp.status_code in (400, 401), (forged, resp.text)
    other = requests.get(f"{platform.url}/v1/functions/other-{fn_name}/code?{parts.query}", timeout=60)
    assert other.status_code == 401  # a URL names one function and version
    assert requests.get(base, timeout=60).status_code == 401  # neither a token nor a signature


def test_code_through_fc2(platform, fn_name, tmp_path):
    key = make_access_key(platform, "admin", "code-fc2")
    sdk = fc2.Client(endpoint=f"http://127.0.0.1:{platform.port}", accessKeyID=key[0], accessKeySecret=key[1])
    zipped = tmp_path / "code.zip"
    zipped.write_bytes(base64.b64decode(code_b64(FILES)))
    service = f"code-{fn_name}"
    sdk.create_service(service)
    sdk.create_function(service, "f", "python3.10", "index.handler", codeZipFile=str(zipped))
    answer = sdk.get_function_code(service, "f").data
    assert files_of(requests.get(answer["url"], timeout=60).content) == FILES
    sdk.delete_function(service, "f")
    sdk.delete_service(service)


def test_a_custom_containers_code_is_its_image(api, platform, docker_client, fn_name):
    image = build_server_image(docker_client, f"faas-test-code-{platform.platform_id}:1", "print('up')")
    made = api.request("POST", "/v1/functions", json={"name": fn_name, "runtime": "custom-container",
                                                      "customContainer": {"image": image, "port": 9000}})
    assert made.status_code == 201, made.text
    resp = api.request("GET", f"/v1/functions/{fn_name}/code")
    assert resp.status_code == 400 and "image" in resp.json()["error"]["message"]
