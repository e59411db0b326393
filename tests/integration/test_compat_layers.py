"""Layers through FC 3.0's SDK and through boto3: published, listed, named by ARN in a function's layers, seen
under /opt by it, and deleted. Real SDKs, real signatures, real Docker."""

import io
import json
import uuid
import zipfile

import alibabacloud_fc20230330.models as fc
import pytest
from test_fc3_api import client as fc_client
from test_fc3_api import sdk_error
from test_lambda_api import client as lambda_client
from test_lambda_api import code_of

from faas.compat.names import native_name
from helpers import code_b64, make_access_key

pytestmark = [pytest.mark.docker, pytest.mark.redis]

READS_THE_LAYER = "import shared\ndef handler(event, context):\n    return shared.WORD\n"
LAMBDA_READS_THE_LAYER = "import shared\ndef lambda_handler(event, context):\n    return {'word': shared.WORD}\n"


@pytest.fixture(scope="module")
def admin_key(platform):
    return make_access_key(platform, "admin", "layers-admin")


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return buf.getvalue()


def test_fc_layers_through_the_sdk(platform, admin_key):
    sdk = fc_client(platform, admin_key)
    layer_name = "Fc_Shared_" + uuid.uuid4().hex[:6]  # not a platform name: one is derived from it
    made = sdk.create_layer_version(layer_name, fc.CreateLayerVersionRequest(body=fc.CreateLayerVersionInput(
        code=fc.InputCodeLocation(zip_file=code_b64({"python/shared.py": "WORD = 'from an FC layer'\n"})),
        compatible_runtime=["python3.10", "python3.12"], description="shared"))).body
    assert (made.layer_name, made.version, made.description) == (layer_name, 1, "shared")
    assert made.compatible_runtime == ["python3.11", "python3.13"] and made.code_size > 0
    assert made.layer_version_arn == f"acs:fc:local:platform:layers/{native_name(layer_name)}/versions/1"
    got = sdk.get_layer_version(layer_name, "1").body
    assert got.layer_version_arn == made.layer_version_arn
    assert sdk.get_layer_version_by_arn(made.layer_version_arn).body.layer_name == layer_name
    listed = sdk.list_layers(fc.ListLayersRequest(prefix="Fc_Shared_", limit=100)).body.layers
    assert layer_name in [layer.layer_name for layer in listed]
    assert sdk.list_layers(fc.ListLayersRequest(public=True)).body.layers == []
    versions = sdk.list_layer_versions(layer_name, fc.ListLayerVersionsRequest()).body.layers
    assert [v.version for v in versions] == [1]

    fn = "fc_layered_" + uuid.uuid4().hex[:6]
    body = fc.CreateFunctionInput(function_name=fn, runtime="python3.10", handler="index.handler", memory_size=128,
                                  code=fc.InputCodeLocation(zip_file=code_b64({"index.py": READS_THE_LAYER})),
                                  layers=[made.layer_version_arn])
    function = sdk.create_function(fc.CreateFunctionRequest(body=body)).body
    assert [layer.arn for layer in function.layers] == [made.layer_version_arn]
    assert sdk.invoke_function(fn, fc.InvokeFunctionRequest(body=b"")).body.read() == b"from an FC layer"
    in_use = sdk_error(lambda: sdk.delete_layer_version(layer_name, "1"))
    assert in_use.code == "ResourceInUse"
    for bad in ("acs:fc:x:1:layers/../versions/1", "arn:aws:lambda:us-east-1:000000000000:layer:x:1",
                made.layer_version_arn + "\n", made.layer_version_arn.replace("/versions/1", "/versions/0")):
        body.layers, body.function_name = [bad], fn + "x"
        assert sdk_error(lambda: sdk.create_function(fc.CreateFunctionRequest(body=body))).code == "InvalidArgument"
    sdk.delete_function(fn)
    sdk.delete_layer_version(layer_name, "1")
    assert sdk_error(lambda: sdk.get_layer_version(layer_name, "1")).code == "LayerNotFound"
    bad_name = sdk_error(lambda: sdk.create_layer_version("9starts-with-a-digit", fc.CreateLayerVersionRequest(
        body=fc.CreateLayerVersionInput(code=fc.InputCodeLocation(zip_file=code_b64({"a": "b"}))))))
    assert bad_name.code == "InvalidArgument"


def test_lambda_layers_through_boto3(platform, admin_key):
    lam = lambda_client(platform, admin_key, region="eu-west-1")
    layer_name = "Lam_Shared_" + uuid.uuid4().hex[:6]
    content = {"ZipFile": zipped({"python/shared.py": "WORD = 'from a Lambda layer'\n"})}
    made = lam.publish_layer_version(LayerName=layer_name, Description="shared", CompatibleRuntimes=["python3.12"],
                                     Content=content)
    arn = made["LayerVersionArn"]
    assert made["Version"] == 1 and made["CompatibleRuntimes"] == ["python3.13"] and made["Content"]["CodeSize"] > 0
    assert arn == f"arn:aws:lambda:eu-west-1:000000000000:layer:{native_name(layer_name)}:1"
    assert lam.get_layer_version(LayerName=layer_name, VersionNumber=1)["LayerVersionArn"] == arn
    assert lam.get_layer_version_by_arn(Arn=arn)["Description"] == "shared"
    assert layer_name in [layer["LayerName"] for layer in lam.list_layers()["Layers"]]
    assert layer_name not in [layer["LayerName"] for layer in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer_name)["LayerVersions"]] == [1]

    fn = "Lam_Layered_" + uuid.uuid4().hex[:6]
    created = lam.create_function(FunctionName=fn, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/any",
                                  Handler="lambda_function.lambda_handler", Layers=[arn],
                                  Code={"ZipFile": zipped({"lambda_function.py": LAMBDA_READS_THE_LAYER})})
    assert [layer["Arn"] for layer in created["Layers"]] == [arn]
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    assert json.loads(lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read()) == {"word": "from a Lambda layer"}
    assert code_of(lambda: lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)) == \
        "ResourceConflictException"
    for bad in (arn.replace("000000000000", "123456789012"), arn.rsplit(":", 1)[0], "not-an-arn", arn + ":2"):
        assert code_of(lambda b=bad: lam.update_function_configuration(FunctionName=fn, Layers=[b])) == \
            "InvalidParameterValueException", bad
    assert code_of(lambda: lam.update_function_configuration(FunctionName=fn, Layers=[arn.replace(":1", ":7")])) \
        == "InvalidParameterValueException"  # a version that does not exist
    updated = lam.update_function_configuration(FunctionName=fn, Layers=[])
    assert "Layers" not in updated
    lam.delete_function(FunctionName=fn)
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    assert code_of(lambda: lam.get_layer_version(LayerName=layer_name, VersionNumber=1)) == \
        "ResourceNotFoundException"
    from_s3 = {"S3Bucket": "bucket", "S3Key": "key"}
    assert code_of(lambda: lam.publish_layer_version(LayerName=layer_name, Content=from_s3)) == \
        "InvalidParameterValueException"
    assert code_of(lambda: lam.publish_layer_version(LayerName=layer_name, CompatibleRuntimes=["nodejs20.x"],
                                                     Content={"ZipFile": zipped({"a": "b"})})) == \
        "InvalidParameterValueException"
