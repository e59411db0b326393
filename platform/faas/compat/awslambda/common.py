"""What the Lambda surface's handlers share: the signature check and Lambda's error shape, and the reading of
function names, qualifiers and ARNs."""

from __future__ import annotations

import functools
import re
import time

from aiohttp import web

from ... import defaults
from ...errors import FaasError, InvalidArgument
from ...qualifiers import check_qualifier
from ...signing import sigv4
from ..names import native_name
from ..signed import CLAIM, Surface

PREFIX = "/2015-03-31"
"""Most of the API's; a few calls are under the date of the API version that added them (CONCURRENCY_PREFIXES)."""
CONCURRENCY_PREFIXES = ("/2017-10-31", "/2019-09-30")
"""Put/DeleteFunctionConcurrency's, and GetFunctionConcurrency's (and the provisioned concurrency calls')."""
EVENT_CONFIG_PREFIX = "/2019-09-25"
"""The event invoke config calls'."""
URL_PREFIX = "/2021-10-31"
"""The function URL calls'."""
ACCOUNT_ID = "000000000000"
"""The account id in every ARN the surface writes (the platform has one account); ARNs with another are refused."""
LATEST = "$LATEST"

class InvalidRequestContent(InvalidArgument):
    """400 InvalidRequestContentException: a body, or an Invoke's payload, that is not the JSON Lambda asks for."""

    code = "InvalidRequestContent"


class ResourceNotFound(FaasError):
    """404 of a setting that is not there (a function's own are FunctionNotFound and the like)."""

    code = "ResourceNotFound"
    status = 404


_CODES = {
    "InvalidRequestContent": "InvalidRequestContentException",
    "InvalidSignature": "InvalidSignatureException",
    "SignatureNotMatch": "InvalidSignatureException",
    "InvalidAccessKeyId.NotFound": "UnrecognizedClientException",
    "AccessDenied": "AccessDeniedException",
    "PayloadTooLarge": "RequestTooLargeException",
    "FunctionAlreadyExists": "ResourceConflictException",
    "TriggerAlreadyExists": "ResourceConflictException",
    "InvocationAlreadyExists": "ResourceConflictException",
}
_BY_STATUS = {400: "InvalidParameterValueException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
              405: "InvalidParameterValueException", 409: "ResourceConflictException",
              413: "RequestTooLargeException", 429: "TooManyRequestsException"}


def lambda_code(status: int, code: str) -> str:
    """Lambda's name for one of the platform's errors."""
    return _CODES.get(code) or _BY_STATUS.get(status) or ("ServiceException" if status >= 500 else
                                                           "InvalidParameterValueException")


def _shape(status: int, code: str, message: str, request_id: str) -> dict:
    return {"Type": "Service" if status >= 500 else "User", "Message": message}


def _headers(status: int, code: str, request_id: str) -> dict:
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": lambda_code(status, code)}
    if status == 429:  # (the error's own Retry-After, when it has one, replaces this)
        headers["Retry-After"] = "1"
    return headers


def surface(prefix: str) -> Surface:
    """SigV4 first; every error as Lambda's `x-amzn-ErrorType` and `{"Type", "Message"}`."""
    return Surface(prefix, sigv4, _shape, _headers)


SURFACE = surface(PREFIX)

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ARN = re.compile(r"(?:arn:aws:lambda:([a-z0-9-]{1,32}):)?(\d{12}):function:(.+)")


def function_of(request: web.Request) -> tuple[str, str, str]:
    """(the Lambda name, the platform name, the platform qualifier) of the path's function: a name, `name:qualifier`,
    a partial ARN (`<account>:function:<name>`) or an ARN, with the `Qualifier` query when the name has none."""
    return _function_of(request.match_info["function"], request.query.get("Qualifier"))


@functools.lru_cache(maxsize=4096)
def _function_of(raw: str, query_qualifier: str | None) -> tuple[str, str, str]:
    """(A caller names the same functions again and again: each reading is made once.)"""
    arn = _ARN.fullmatch(raw)
    if arn is not None:
        if arn.group(2) != ACCOUNT_ID:
            raise InvalidArgument(f"the ARN's account must be this platform's, {ACCOUNT_ID}")
        raw = arn.group(3)
    name, colon, named_qualifier = raw.partition(":")
    if not NAME.fullmatch(name) or (colon and not named_qualifier):
        raise InvalidArgument("a function name is 1-64 letters, digits, '-' or '_' (or its ARN)")
    if colon and query_qualifier is not None and query_qualifier != named_qualifier:
        raise InvalidArgument("the Qualifier differs from the one in the function name")
    qualifier = named_qualifier or query_qualifier or LATEST
    return name, native_name(name), check_qualifier(defaults.LATEST if qualifier == LATEST else qualifier)


def version_of(platform_version: str) -> str:
    """Lambda's name for one of the platform's version ids."""
    return LATEST if platform_version == defaults.LATEST else platform_version


def region(request: web.Request) -> str:
    """The region the request was signed for (its credential scope's)."""
    return request[CLAIM].scope.split("/")[1]


def function_arn(request: web.Request, name: str, qualifier: str | None = None) -> str:
    """The ARN of function `name` (at `qualifier`) in the region the request was signed for."""
    return f"arn:aws:lambda:{region(request)}:{ACCOUNT_ID}:function:{name}" + (f":{qualifier}" if qualifier else "")


def lambda_time(seconds: float) -> str:
    """A time as Lambda's API writes one: 2026-12-04T19:42:58.000+0000."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}+0000"



LIST_DEFAULT, LIST_MAX = 50, 10_000
"""A list's `MaxItems`: its default and its most."""


def max_items(request: web.Request) -> int:
    """A list's `MaxItems`: 1-10000, 50 by default."""
    raw = request.query.get("MaxItems", str(LIST_DEFAULT))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LIST_MAX:
        raise InvalidArgument(f"MaxItems must be a whole number from 1 to {LIST_MAX}")
    return int(raw)
