"""SigV4 (`faas.signing.sigv4`) against botocore's own signer: requests signed by botocore's SigV4Auth, at a fixed
time, verify; every change to what was signed, and every malformed or unsigned part, is refused."""

import hashlib
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy

from faas.signing import Request, SignatureError, sigv4

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
BASE = "http://127.0.0.1:9000"
INVOKE = f"{BASE}/2015-03-31/functions/my-fn%3Aprod/invocations"
BODY = b'{"hello": "world"}'


def botocore_signed(method="POST", url=INVOKE, body=BODY, headers=None, service="lambda", region="us-east-1",
                    secret="SECRET") -> tuple[list[tuple[str, str]], bytes]:
    """The headers botocore sends for a request it signed at WHEN (the Host its HTTP client adds first)."""
    request = AWSRequest(method=method, url=url, data=body,
                         headers=headers if headers is not None else {"X-Amz-Invocation-Type": "RequestResponse",
                                                                      "X-Amz-Log-Type": "Tail",
                                                                      "User-Agent": "Boto3/1.44 md/x"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
        SigV4Auth(Credentials("AKIDEXAMPLE", secret), service, region).add_auth(request)
    return [("Host", urlsplit(url).netloc), *request.headers.items()], body


def as_sent(headers, url=INVOKE, method="POST") -> Request:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return Request.of(method, target, CIMultiDictProxy(CIMultiDict(headers)))


def verify(request: Request, body: bytes, now=WHEN, secret="SECRET"):
    claim = sigv4.read(request, now)
    request.body_sha256 = hashlib.sha256(body).hexdigest()
    sigv4.check(request, claim, secret)
    return claim


def test_botocore_signed_invoke_with_a_qualified_name_and_a_body_verifies():
    headers, body = botocore_signed()
    claim = verify(as_sent(headers), body)
    assert (claim.key_id, claim.scope, claim.signed_at) == ("AKIDEXAMPLE", "20240102/us-east-1/lambda/aws4_request",
                                                            WHEN)
    assert claim.nonce is None
    assert "user-agent" not in claim.signed_headers and "x-amz-log-type" in claim.signed_headers
    # a fixed vector: botocore's signature of this request at WHEN, and the canonical request behind it (the path
    # quoted once more, the body's hash signed though no header carries it)
    assert claim.signature == "e73bbca9e13d3d2a7755dc7134898fcfebbaab515842a2236a8d9bbbd5941934"
    canonical = sigv4.canonical_request(as_sent(headers), claim.signed_headers, hashlib.sha256(body).hexdigest())
    assert canonical == ("POST\n/2015-03-31/functions/my-fn%253Aprod/invocations\n\nhost:127.0.0.1:9000\n"
                         "x-amz-date:20240102T030405Z\nx-amz-invocation-type:RequestResponse\nx-amz-log-type:Tail\n\n"
                         f"host;x-amz-date;x-amz-invocation-type;x-amz-log-type\n{hashlib.sha256(BODY).hexdigest()}")
    assert sigv4.sign(canonical, "20240102T030405Z", claim.scope, "SECRET") == claim.signature


@pytest.mark.parametrize("url", [
    f"{BASE}/2015-03-31/functions/?Marker=abc%2Fdef&MaxItems=10&FunctionVersion=ALL",
    f"{BASE}/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/configuration"
    "?Qualifier=%24LATEST",
    f"{BASE}/2015-03-31/functions/f/invocations?b=2&a=1&a=0&empty=",
])
def test_botocore_signed_queries_and_arns_verify(url):
    headers, body = botocore_signed(method="GET", url=url, body=b"", headers={})
    assert verify(as_sent(headers, url, "GET"), body).key_id == "AKIDEXAMPLE"


def test_any_region_verifies_and_the_signing_key_follows_it():
    headers, body = botocore_signed(region="eu-central-1")
    assert verify(as_sent(headers), body).scope == "20240102/eu-central-1/lambda/aws4_request"


def changed(headers, name, value):
    out = [(k, v) for k, v in headers if k.lower() != name.lower()]
    return [*out, (name, value)]


@pytest.mark.parametrize("change, reason", [
    (lambda h: changed(h, "X-Amz-Invocation-Type", "Event"), "does not match"),
    (lambda h: changed(h, "Host", "127.0.0.1:9001"), "does not match"),
    (lambda h: [*h, ("X-Amz-Client-Context", "e30=")], "x-amz-client-context is not signed"),
    (lambda h: [*h, ("Content-Type", "text/plain")], "content-type is not signed"),
    (lambda h: [*h, ("X-Amz-Log-Type", "None")], "repeated"),
    (lambda h: [(k, v) for k, v in h if k != "X-Amz-Log-Type"], "names x-amz-log-type"),
    (lambda h: changed(h, "X-Amz-Date", "20240102T030406Z"), "does not match"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"].replace("/20240102/", "/20240101/")),
     "scope's date"),
    (lambda h: changed(h, "X-Amz-Date", "2024-01-02T03:04:05Z"), "X-Amz-Date must be"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"] + "\n"), "control characters"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"] + " " * 5000), "too long"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"].replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")),
     "algorithm"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"].replace("/lambda/", "/s3/")), "service"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"].replace("aws4_request", "aws5_request")),
     "Credential"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"].replace("SignedHeaders=host;",
                                                                           "SignedHeaders=")), "include host"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"][:-1] + "G"), "64 lower-case hex"),
    (lambda h: changed(h, "Authorization", dict(h)["Authorization"] + ", Signature=" + "0" * 64), "Credential="),
    (lambda h: [(k, v) for k, v in h if k != "Authorization"], "not signed"),
])
def test_a_changed_unsigned_or_malformed_request_is_refused(change, reason):
    headers, body = botocore_signed()
    with pytest.raises(SignatureError, match=reason):
        verify(as_sent(change(headers)), body)


def test_a_changed_body_path_or_query_a_wrong_secret_and_a_skewed_date_are_refused():
    headers, body = botocore_signed()
    with pytest.raises(SignatureError, match="does not match"):
        verify(as_sent(headers), body + b" ")
    with pytest.raises(SignatureError, match="does not match"):
        verify(as_sent(headers, INVOKE.replace("my-fn", "other")), body)
    with pytest.raises(SignatureError, match="does not match"):
        verify(as_sent(headers, INVOKE + "?Qualifier=1"), body)
    with pytest.raises(SignatureError, match="does not match"):
        verify(as_sent(headers), body, secret="WRONG")
    assert verify(as_sent(headers), body, now=WHEN + timedelta(minutes=14))
    with pytest.raises(SignatureError, match="15 minutes"):
        verify(as_sent(headers), body, now=WHEN + timedelta(minutes=16))


@pytest.mark.parametrize("path", ["/2015-03-31/functions/x/../f/invocations", "/2015-03-31//functions/f/invocations",
                                  "/2015-03-31/functions/./f/invocations"])
def test_a_path_with_dot_or_empty_segments_is_refused_even_when_botocore_signed_it(path):
    """botocore signs such a path with its dot segments removed: what the router would see is not what was signed."""
    url = BASE + path
    headers, body = botocore_signed(url=url)
    with pytest.raises(SignatureError, match="segment"):
        verify(as_sent(headers, url), body)


def test_a_sent_body_hash_must_be_the_bodys():
    headers, body = botocore_signed(headers={"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()})
    assert verify(as_sent(headers), body)
    with pytest.raises(SignatureError, match="not the SHA-256 of the body"):
        verify(as_sent(headers), b"another body")
    headers, body = botocore_signed(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(SignatureError, match="body must be signed"):
        verify(as_sent(headers), body)


def test_a_signed_value_with_runs_of_white_space_verifies_as_botocore_trims_it():
    headers, body = botocore_signed(headers={"X-Amz-Client-Context": "  a   b\t\tc  ", "X-Amz-Log-Type": "Tail"})
    assert verify(as_sent(headers), body).key_id == "AKIDEXAMPLE"
    request = as_sent(headers)
    claim = sigv4.read(request, WHEN)
    canonical = sigv4.canonical_request(request, claim.signed_headers, hashlib.sha256(body).hexdigest())
    assert "\nx-amz-client-context:a b c\n" in canonical
    with pytest.raises(SignatureError, match="does not match"):  # the trimmed value is signed, not another
        verify(as_sent(changed(headers, "X-Amz-Client-Context", "a bc")), body)
