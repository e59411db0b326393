"""Lambda-shaped handlers (handlerType `lambda`): called as AWS Lambda's Python runtime calls them.

The event is the JSON-decoded payload (an empty one is `{}`, as Lambda passes it), the result is JSON-encoded
(None is `null`), and `context` is Lambda's: aws_request_id, function_name, function_version,
invoked_function_arn, memory_limit_in_mb (a string, as there), log_group_name, log_stream_name,
get_remaining_time_in_millis(), identity and client_context (None). The function's name, version and region
come from Lambda's own environment variables, which the platform sets in the container (AWS_LAMBDA_FUNCTION_NAME,
AWS_LAMBDA_FUNCTION_VERSION, AWS_REGION...). Errors keep the shared shape, which is Lambda's.
"""

import decimal
import json
import os
import secrets
import time

from .errors import RuntimeFault

UNMARSHAL_ERROR = "Runtime.UnmarshalError"
MARSHAL_ERROR = "Runtime.MarshalError"
ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
_stream_name = None


def log_stream_name():
    """This process's log stream, named as Lambda names an execution environment's (made once)."""
    global _stream_name
    if _stream_name is None:
        version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        _stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME") or \
            f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{secrets.token_hex(16)}"
    return _stream_name


def decode_event(payload):
    if not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise RuntimeFault(UNMARSHAL_ERROR, f"Unable to unmarshal input: {exc}") from None


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):  # as Lambda's runtime does (DynamoDB's numbers are Decimals)
            return float(o) if o % 1 else int(o)
        return super().default(o)


def encode_result(result):
    try:
        return json.dumps(result, cls=_Encoder, allow_nan=False).encode("utf-8"), "application/json"
    except (TypeError, ValueError, RecursionError) as exc:
        raise RuntimeFault(MARSHAL_ERROR, f"Unable to marshal response: {exc}") from exc


class LambdaContext:
    """Lambda's context object for one invocation."""

    def __init__(self, request_id, meta, deadline):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME") or meta.name
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        region = env.get("AWS_REGION") or DEFAULT_REGION
        qualifier = "" if self.function_version == "$LATEST" else f":{self.function_version}"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.function_name}{qualifier}"
        self.memory_limit_in_mb = str(meta.memory_size)
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME") or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = log_stream_name()
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def call(func, request_id, meta, payload):
    """Call a Lambda-shaped handler: (body, content type); raises as any handler does."""
    event = decode_event(payload)
    context = LambdaContext(request_id, meta, time.monotonic() + meta.timeout)
    return encode_result(func(event, context))
