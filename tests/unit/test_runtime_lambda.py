"""Lambda-shaped handlers (handlerType lambda) in the in-container runtime, run in-process: the event decoded from
JSON, the result encoded to it, Lambda's context and error types."""

import decimal
import json
import time

import pytest

from fcruntime import awslambda, errors
from fcruntime.server import Runtime

HANDLER = """
def handler(event, context):
    if isinstance(event, bytes):
        return b"bytes:" + event
    if event == "raise":
        raise ValueError("bad event")
    if event == "nan":
        return float("nan")
    if event == "set":
        return {1, 2}
    if event == "decimal":
        return {"whole": DECIMALS[0], "part": DECIMALS[1]}
    if event == "none":
        return None
    if event == "context":
        c = context
        return [c.aws_request_id, c.function_name, c.function_version, c.invoked_function_arn,
                c.memory_limit_in_mb, c.log_group_name, c.log_stream_name, c.identity, c.client_context,
                0 < c.get_remaining_time_in_millis() <= 9000]
    return {"got": event}
"""


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "rt_lambda.py").write_text("import decimal\nDECIMALS = (decimal.Decimal('3'), "
                                           "decimal.Decimal('2.5'))\n" + HANDLER)
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_REGION",
                 "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(awslambda, "_stream_name", None)
    yield Runtime({"FC_CODE_DIR": str(tmp_path), "FC_FUNCTION_NAME": "fn"})
    import sys

    sys.modules.pop("rt_lambda", None)


def call(runtime, payload):
    meta = runtime.function_meta({"x-fc-function-handler": "rt_lambda.handler", "x-fc-function-handler-type": "lambda",
                                  "x-fc-function-memory": "256", "x-fc-function-timeout": "9"})
    body, content_type = runtime.invoke("rid-1", meta, payload, 1)
    assert content_type == "application/json"
    return json.loads(body)


@pytest.mark.parametrize("payload, expected", [
    (b'{"a": [1, 2]}', {"got": {"a": [1, 2]}}),
    (b"", {"got": {}}),  # no payload: Lambda passes {}
    (b"  \n", {"got": {}}),
    (b"7", {"got": 7}),
    (b'"text"', {"got": "text"}),
    (b"null", {"got": None}),
    (b'"none"', None),  # None is null
    (b'"decimal"', {"whole": 3, "part": 2.5}),  # Decimals as numbers, as Lambda's runtime encodes them
])
def test_event_is_decoded_and_result_encoded(runtime, payload, expected):
    assert call(runtime, payload) == expected


@pytest.mark.parametrize("payload", [b"not json", b"{", b'{"a": 1}\n{"b": 2}', b"\xff\xfe", b"[" * 100_000])
def test_a_payload_that_is_not_json_is_an_unmarshal_error(runtime, payload):
    with pytest.raises(errors.RuntimeFault) as info:
        call(runtime, payload)
    doc = errors.make_error(info.value)
    assert doc["errorType"] == "Runtime.UnmarshalError" and doc["errorMessage"].startswith("Unable to unmarshal")


@pytest.mark.parametrize("payload", [b'"nan"', b'"set"'])
def test_a_result_json_cannot_hold_is_a_marshal_error(runtime, payload):
    with pytest.raises(errors.RuntimeFault) as info:
        call(runtime, payload)
    assert errors.make_error(info.value)["errorType"] == "Runtime.MarshalError"


def test_an_exception_is_lambdas_error_payload(runtime):
    with pytest.raises(ValueError) as info:
        call(runtime, b'"raise"')
    doc = errors.make_error(info.value)
    assert doc["errorType"] == "ValueError" and doc["errorMessage"] == "bad event"
    assert any("rt_lambda.py" in line and "in handler" in line for line in doc["stackTrace"])
    assert not any("fcruntime" in line for line in doc["stackTrace"])


def test_context_is_lambdas(runtime, monkeypatch):
    got = call(runtime, b'"context"')
    day = time.strftime("%Y/%m/%d", time.gmtime())
    assert got[:6] == ["rid-1", "fn", "$LATEST", "arn:aws:lambda:us-east-1:000000000000:function:fn", "256",
                       "/aws/lambda/fn"]
    assert got[6].startswith(f"{day}/[$LATEST]") and len(got[6]) == len(day) + 10 + 32
    assert got[7:] == [None, None, True]
    assert call(runtime, b'"context"')[6] == got[6]  # one stream per process, as per execution environment

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "My_Func")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "3")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    got = call(runtime, b'"context"')
    assert got[1:4] == ["My_Func", "3", "arn:aws:lambda:eu-west-1:000000000000:function:My_Func:3"]
    assert got[5] == "/aws/lambda/My_Func"


def test_an_event_handler_still_gets_bytes(runtime):
    meta = runtime.function_meta({"x-fc-function-handler": "rt_lambda.handler", "x-fc-function-timeout": "9"})
    assert runtime.invoke("rid-1", meta, b'"x"', 1) == (b'bytes:"x"', "application/octet-stream")


def test_decimal_encoder_refuses_what_is_not_a_number():
    with pytest.raises(errors.RuntimeFault):
        awslambda.encode_result({"d": decimal.Decimal("NaN")})
