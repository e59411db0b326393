"""FC's two signatures, checked with vectors that the SDKs' own signers computed (alibabacloud-tea-openapi
0.4.6's `get_authorization`, aliyun-fc2 2.5.2's `Auth.sign_request`, with their date and nonce fixed), and
every way a request may differ from what was signed."""

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from faas.signing import Request, SignatureError, acs3, fc2

UA = "AlibabaCloud (Linux; x86_64) Python/3.11.2 Core/0.4.3 TeaDSL/2"
WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
LIST_SIGNED = ("accept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;"
               "x-acs-signature-nonce;x-acs-version")
CREATE_BODY = (b'{"code":{"zipFile":"UEsDBA=="},"functionName":"f1","handler":"index.handler","memorySize":128,'
               b'"runtime":"python3.10","tags":[]}')


def acs3_request(method="GET", target="/2023-03-30/functions?limit=2", body=b"", action="ListFunctions",
                 signature="161cfe52b715aba7ab890fe3d0f60ac0e9403800ae1871c446332f531eff9e7c",
                 signed=LIST_SIGNED, extra=(), sha=None) -> tuple[Request, bytes]:
    headers = [("Accept-Encoding", "identity"), ("host", "127.0.0.1:18931"), ("x-acs-version", "2023-03-30"),
               ("x-acs-action", action), ("user-agent", UA), ("x-acs-date", "2024-01-02T03:04:05Z"),
               ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"), ("accept", "application/json"),
               ("x-acs-content-sha256", sha or EMPTY), ("x-acs-credentials-provider", "static_ak"), *extra,
               ("Authorization", f"ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders={signed},Signature={signature}")]
    return Request.of(method, target, CIMultiDictProxy(CIMultiDict(headers))), body


def create_request(**changes) -> tuple[Request, bytes]:
    args = dict(method="POST", target="/2023-03-30/functions", body=CREATE_BODY, action="CreateFunction",
                signature="6903f67d2e9c077dc3ec1145f5708b93828644ac8288e79373bd57c1d1c59bf4",
                signed=LIST_SIGNED.replace("accept;", "accept;content-type;"),
                extra=[("content-type", "application/json; charset=utf-8")],
                sha="0dbe6ea63f37971622ef9ba99c3d60fdf345136c1510b49dd6f937f5ef202f15")
    return acs3_request(**(args | changes))


def verify_acs3(sent: tuple[Request, bytes], now=WHEN, secret="SECRET") -> str:
    request, body = sent
    claim = acs3.read(request, now)
    acs3.check(request, claim, secret)
    acs3.check_body(request, body)
    return claim.key_id


def test_acs3_accepts_the_sdks_own_signatures():
    assert verify_acs3(acs3_request()) == "AKID"
    assert verify_acs3(create_request()) == "AKID"
    claim = acs3.read(acs3_request()[0], WHEN)
    assert claim.nonce == "0123456789abcdef0123456789abcdef" and "user-agent" in claim.signed_headers


def test_acs3_canonical_request_is_the_sdks():
    text = acs3.canonical_request(acs3_request()[0], tuple(LIST_SIGNED.split(";")))
    assert text.split("\n")[:4] == ["GET", "/2023-03-30/functions", "limit=2", "accept:application/json"]
    assert text.endswith(f"\n\n{LIST_SIGNED}\n{EMPTY}")


def test_acs3_query_is_decoded_sorted_and_quoted_again():
    assert acs3.canonical_query("prefix=a+b&limit=2&x=%7E%2F") == "limit=2&prefix=a%20b&x=~%2F"
    assert acs3.canonical_query("") == ""
    with pytest.raises(SignatureError, match="repeated"):
        acs3.canonical_query("limit=1&limit=2")
    with pytest.raises(SignatureError, match="UTF-8"):
        acs3.canonical_query("prefix=%ff")


@pytest.mark.parametrize("request_, reason", [
    (acs3_request(target="/2023-03-30/functions?limit=3"), "does not match"),
    (acs3_request(target="/2023-03-30/functions/other?limit=2"), "does not match"),
    (acs3_request(target="/2023-03-30/functions?limit=2&prefix=a"), "does not match"),
    (acs3_request(method="DELETE"), "does not match"),
    (acs3_request(action="DeleteFunction"), "does not match"),
    (create_request(body=CREATE_BODY.replace(b"128", b"256")), "SHA-256 of the body"),
    (create_request(body=CREATE_BODY.replace(b"128", b"256"),
                    sha="5d1b3b1bb8f2da6b4b6a9a2e1d3a0b0e8b0a0f2f7c3bda8b98e06b4a2c1e3f5d"), "does not match"),
    (create_request(sha="not hex"), "64 lower-case hex"),
    (acs3_request(signature="0" * 64), "does not match"),
    (acs3_request(signature="161CFE52B715ABA7AB890FE3D0F60AC0E9403800AE1871C446332F531EFF9E7C"), "64 lower-case"),
    (acs3_request(extra=[("x-fc-invocation-type", "Async")]), "x-fc-invocation-type is not signed"),
    (acs3_request(extra=[("x-acs-date", "2024-01-02T03:04:06Z")]), "repeated"),
    (acs3_request(extra=[("user-agent", "second")]), "repeated"),
    (acs3_request(signed=LIST_SIGNED + ";zz-absent"), "does not carry"),
    (acs3_request(signed=LIST_SIGNED.replace("host;", "")), "must include host"),
    (acs3_request(signed=LIST_SIGNED.replace("x-acs-signature-nonce;", "")), "must include x-acs-signature-nonce"),
    (acs3_request(signed="host;accept;" + LIST_SIGNED.replace("accept;host;", "")), "sorted"),
    (acs3_request(signed=LIST_SIGNED.replace("accept;", "accept;accept;")), "sorted"),
    (acs3_request(signed=LIST_SIGNED.replace("accept", "Accept")), "lower-case"),
])
def test_acs3_refuses_a_request_that_differs_from_what_was_signed(request_, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_acs3(request_)


def test_acs3_refuses_a_wrong_secret_and_a_skewed_date():
    with pytest.raises(SignatureError, match="does not match"):
        verify_acs3(acs3_request(), secret="SECRET2")
    assert verify_acs3(acs3_request(), now=WHEN + timedelta(minutes=14))
    for skew in (timedelta(minutes=16), -timedelta(minutes=16)):
        with pytest.raises(SignatureError, match="minutes from the platform's clock"):
            verify_acs3(acs3_request(), now=WHEN + skew)


@pytest.mark.parametrize("authorization, reason", [
    (None, "not signed"),
    ("Bearer faas_admin_x", "algorithm must be"),
    ("ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host", "Credential=...,SignedHeaders"),
    ("ACS3-HMAC-SHA256 Credential=AKID,Credential=AKID,SignedHeaders=host,Signature=" + "0" * 64, "Credential=..."),
    ("ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host,Signature=" + "0" * 64 + ",Extra=1", "Credential=..."),
    ("ACS3-HMAC-SHA256 Credential=AK ID,SignedHeaders=host,Signature=" + "0" * 64, "not an access key id"),
    ("ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host,Signature=" + "0" * 64 + "\n", "control characters"),
    ("ACS3-HMAC-SHA256 Credential=" + "A" * 5000 + ",SignedHeaders=host,Signature=" + "0" * 64, "too long"),
])
def test_acs3_refuses_a_malformed_authorization_header(authorization, reason):
    base = acs3_request()[0]
    headers = CIMultiDict(base.headers)
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization
    with pytest.raises(SignatureError, match=reason):
        acs3.read(Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(headers)), WHEN)


@pytest.mark.parametrize("header, value, reason", [
    ("x-acs-date", "2024-01-02 03:04:05", "UTC time"),
    ("x-acs-date", "2024-01-02T03:04:05Z\n", "UTC time"),
    ("x-acs-signature-nonce", "a b", "x-acs-signature-nonce must be"),
    ("x-acs-signature-nonce", "n" * 65, "x-acs-signature-nonce must be"),
])
def test_acs3_refuses_malformed_dates_and_nonces(header, value, reason):
    base = acs3_request()[0]
    headers = CIMultiDict(base.headers)
    headers[header] = value
    with pytest.raises(SignatureError, match=reason):
        acs3.read(Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(headers)), WHEN)


FC2_DATE = "Tue, 02 Jan 2024 03:04:05 GMT"


def fc2_request(method="GET", target="/2016-08-15/services?limit=2",
                authorization="FC AKID:So93ZNB9lG8ifQ5+6IziLYPQlTMO2QmDGglnmgweKdA=", extra=(), body=b""
                ) -> tuple[Request, bytes]:
    headers = [("host", "127.0.0.1:18931"), ("date", FC2_DATE), ("content-type", "application/json"),
               ("content-length", str(len(body))), ("user-agent", "aliyun-fc-sdk-v2.5.2"), *extra,
               ("authorization", authorization)]
    return Request.of(method, target, CIMultiDictProxy(CIMultiDict(headers))), body


INVOKE = dict(method="POST", target="/2016-08-15/services/s1.prod/functions/f1/invocations",
              authorization="FC AKID:5dPkj9y0PxT8md6K1A1CqFWJ3Gw7ce40uW5xJKBpzek=",
              extra=[("x-fc-invocation-type", "Sync"), ("x-fc-log-type", "Tail")], body=b'{"k":1}')


def verify_fc2(sent: tuple[Request, bytes], now=WHEN, secret="SECRET") -> str:
    request, body = sent
    claim = fc2.read(request, now)
    fc2.check(request, claim, secret)
    fc2.check_body(request, body)
    return claim.key_id


def test_fc2_accepts_the_sdks_own_signatures():
    assert verify_fc2(fc2_request()) == "AKID"
    assert verify_fc2(fc2_request(**INVOKE)) == "AKID"
    create = fc2_request("POST", "/2016-08-15/services/s1/functions",
                         "FC AKID:VWfu9jOBF+PlY6AG7mgYmuQbrmH6P0dzZzlWm9HYOdw=", body=b'{"functionName": "f1"}')
    assert verify_fc2(create) == "AKID"
    # HTTP-trigger calls sign the query, decoded, as sorted lines, and end the resource with a newline without one
    assert verify_fc2(fc2_request(target="/2016-08-15/proxy/s1.prod/f1/hello/world",
                                  authorization="FC AKID:mbvbxNmeW8cv6fL9Z5pTxw2Z0isNKDJCkQIS5uIS7Kc="))
    assert verify_fc2(fc2_request(target="/2016-08-15/proxy/s1.prod/f1/hello/world?b=2&b=1&a=x+y",
                                  authorization="FC AKID:hZQq0kc3A4lUPmPVlNly/kftkiLocQtTWFeBCp+U1I4="))


def test_fc2_string_to_sign_is_the_sdks():
    assert fc2.string_to_sign(fc2_request(**INVOKE)[0]) == (
        "POST\n\napplication/json\nTue, 02 Jan 2024 03:04:05 GMT\nx-fc-invocation-type:Sync\nx-fc-log-type:Tail\n"
        "/2016-08-15/services/s1.prod/functions/f1/invocations")
    # the path is signed decoded; the query of an API call is not signed at all
    spaced = fc2_request(target="/2016-08-15/services/my%20svc?limit=2")
    assert fc2.string_to_sign(spaced[0]).endswith("\n/2016-08-15/services/my svc")


@pytest.mark.parametrize("changes, reason", [
    (dict(INVOKE, method="PUT"), "does not match"),
    (dict(INVOKE, target="/2016-08-15/services/s1.prod/functions/f2/invocations"), "does not match"),
    (dict(INVOKE, extra=[("x-fc-invocation-type", "Async"), ("x-fc-log-type", "Tail")]), "does not match"),
    (dict(INVOKE, extra=[*INVOKE["extra"], ("x-fc-trace-id", "t")]), "does not match"),
    (dict(INVOKE, extra=[*INVOKE["extra"], ("x-fc-log-type", "None")]), "repeated"),
    (dict(INVOKE, extra=[*INVOKE["extra"], ("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")]), "does not match"),
    (dict(target="/2016-08-15/proxy/s1.prod/f1/hello/world?a=1",
          authorization="FC AKID:mbvbxNmeW8cv6fL9Z5pTxw2Z0isNKDJCkQIS5uIS7Kc="), "does not match"),
    (dict(authorization="FC AKID:So93ZNB9lG8ifQ5+6IziLYPQlTMO2QmDGglnmgweKdA"), "must be 'FC"),
    (dict(authorization="FC AKID:So93ZNB9lG8ifQ5+6IziLYPQlTMO2QmDGglnmgweKdA=\n"), "must be 'FC"),
    (dict(authorization="ACS3-HMAC-SHA256 Credential=AKID"), "must be 'FC"),
    (dict(extra=[("date", FC2_DATE)]), "repeated"),
])
def test_fc2_refuses_a_request_that_differs_from_what_was_signed(changes, reason):
    with pytest.raises(SignatureError, match=reason):
        verify_fc2(fc2_request(**changes))


@pytest.mark.parametrize("md5, reason", [("AAAAAAAAAAAAAAAAAAAAAA==", "MD5 of the body"),
                                         ("not base64!", "base64 MD5")])
def test_fc2_checks_a_signed_content_md5_against_the_body(md5, reason):
    unsigned, body = fc2_request(**dict(INVOKE, extra=[*INVOKE["extra"], ("Content-MD5", md5)]))
    signature = fc2.sign(fc2.string_to_sign(unsigned), "SECRET")
    request, body = fc2_request(**dict(INVOKE, extra=[*INVOKE["extra"], ("Content-MD5", md5)],
                                       authorization=f"FC AKID:{signature}"))
    fc2.check(request, fc2.read(request, WHEN), "SECRET")  # the head is as signed ...
    with pytest.raises(SignatureError, match=reason):
        fc2.check_body(request, body)  # ... the body is not what it says
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    unsigned, _ = fc2_request(**dict(INVOKE, extra=[*INVOKE["extra"], ("Content-MD5", good)]))
    request, _ = fc2_request(**dict(INVOKE, extra=[*INVOKE["extra"], ("Content-MD5", good)],
                                    authorization=f"FC AKID:{fc2.sign(fc2.string_to_sign(unsigned), 'SECRET')}"))
    assert verify_fc2((request, body)) == "AKID"


def test_fc2_refuses_a_wrong_secret_and_a_skewed_or_malformed_date():
    with pytest.raises(SignatureError, match="does not match"):
        verify_fc2(fc2_request(), secret="other")
    with pytest.raises(SignatureError, match="minutes from the platform's clock"):
        verify_fc2(fc2_request(), now=WHEN + timedelta(minutes=16))
    base = fc2_request()[0]
    for date in ("yesterday", "Tue, 02 Jan 2024 03:04:05", ""):
        headers = CIMultiDict(base.headers)
        headers["date"] = date
        with pytest.raises(SignatureError, match="Date header"):
            fc2.read(Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(headers)), WHEN)



def test_acs3_reads_the_authorization_fields_in_any_order_and_a_kept_form_checks_each_signature():
    """All but the signature is read once per client (acs3._form is kept): the SDK's own vector with its fields
    reordered still verifies, and the next request with the same form and another signature is refused."""
    good = "161cfe52b715aba7ab890fe3d0f60ac0e9403800ae1871c446332f531eff9e7c"
    base = acs3_request()[0]
    for authorization in (f"ACS3-HMAC-SHA256 Signature={good},Credential=AKID,SignedHeaders={LIST_SIGNED}",
                          f"ACS3-HMAC-SHA256 SignedHeaders={LIST_SIGNED},Signature={good},Credential=AKID"):
        headers = CIMultiDict(base.headers)
        headers["Authorization"] = authorization
        assert verify_acs3((Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(headers)), b""))
        headers["Authorization"] = authorization.replace(good, good[::-1])
        with pytest.raises(SignatureError, match="does not match"):
            verify_acs3((Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(headers)), b""))
    forged = CIMultiDict(base.headers)  # a "Signature=" inside another field is not the signature
    forged["Authorization"] = f"ACS3-HMAC-SHA256 Credential=AKIDSignature={good},SignedHeaders={LIST_SIGNED}"
    with pytest.raises(SignatureError, match="Credential"):
        acs3.read(Request(base.method, base.raw_path, base.raw_query, CIMultiDictProxy(forged)), WHEN)


def test_acs3_header_names_read_once_per_client_still_see_each_requests_repeats_and_values():
    """A request's header names are worked out once per set of names (a client sends the same ones each time),
    and the canonical headers' lines once per SignedHeaders list: a repeated header is still refused after the
    same names were accepted, and a value that looks like a format field is signed as it is."""
    assert verify_acs3(acs3_request()) == "AKID"
    with pytest.raises(SignatureError, match="repeated"):
        verify_acs3(acs3_request(extra=[("User-Agent", "second")]))
    headers = CIMultiDict(acs3_request()[0].headers)
    headers["user-agent"] = "a {0} {} {user-agent} }{"
    names = tuple(LIST_SIGNED.split(";"))
    unsigned = Request("GET", "/2023-03-30/functions", "limit=2", CIMultiDictProxy(headers))
    canonical = acs3.canonical_request(unsigned, names)
    assert "\nuser-agent:a {0} {} {user-agent} }{\n" in canonical
    headers["Authorization"] = (f"ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders={LIST_SIGNED},"
                                f"Signature={acs3.sign(canonical, 'SECRET')}")
    assert verify_acs3((Request("GET", "/2023-03-30/functions", "limit=2", CIMultiDictProxy(headers)), b""))
