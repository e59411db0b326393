"""Triggers as values: config validation (hostile input too), timer schedules, and the HTTP mappings."""

import base64
import json
from datetime import datetime, timezone

import pytest

from faas import defaults
from faas.errors import InvalidArgument
from faas.triggers import http as th
from faas.triggers.function_url import url_event
from faas.triggers.model import Schedule, Trigger, check_trigger_name, iso_utc, parse_config
from faas.triggers.timer import next_due


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() if "+" not in text \
        else datetime.fromisoformat(text).timestamp()


def create(body, function="fn"):
    return Trigger.from_create(function, "fid", body, "tid", 1.0)


# -- names and the resource
@pytest.mark.parametrize("name", ["a", "A-b_9", "x" * 128])
def test_good_trigger_names(name):
    assert check_trigger_name(name) == name


@pytest.mark.parametrize("name", ["", "9a", "-a", "a" * 129, "a\n", "a b", "a/b", "ä", None, 5, "a\x00"])
def test_bad_trigger_names(name):
    with pytest.raises(InvalidArgument, match="triggerName"):
        check_trigger_name(name)


def test_config_as_a_json_string_is_accepted():
    trigger = create({"triggerName": "t", "triggerType": "timer",
                      "triggerConfig": json.dumps({"cronExpression": "@every 1m", "payload": "x"})})
    assert trigger.config.to_api() == {"cronExpression": "@every 1m", "payload": "x", "enable": True}


def test_typed_config_accessors_give_the_triggers_own_kind_only():
    trigger = create({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q"}})
    assert trigger.queue_config.queue_name == "q"
    with pytest.raises(TypeError, match="fn/t is a queue trigger"):
        _ = trigger.timer_config


@pytest.mark.parametrize("body,field", [
    ({"triggerName": "t", "triggerType": "cron", "triggerConfig": {}}, "triggerType"),
    ({"triggerName": "t", "triggerType": "timer"}, "triggerConfig"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": "not json"}, "triggerConfig"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": "[1]"}, "triggerConfig"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": "[" * 100000}, "triggerConfig"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": '{"cronExpression": "@every 1m"}\n{}'},
     "triggerConfig"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1m", "x": 1}}, "x"),
    ({"triggerName": "t", "triggerType": "http", "triggerConfig": {"authType": "none"}}, "authType"),
    ({"triggerName": "t", "triggerType": "http", "triggerConfig": {"methods": []}}, "methods"),
    ({"triggerName": "t", "triggerType": "http", "triggerConfig": {"methods": ["get"]}}, "methods"),
    ({"triggerName": "t", "triggerType": "http", "triggerConfig": {"methods": ["GET", "GET"]}}, "methods"),
    ({"triggerName": "t", "triggerType": "http", "triggerConfig": {"methods": ["CONNECT"]}}, "methods"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {}}, "queueName"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q\n"}}, "queueName"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q", "batchSize": 101}},
     "batchSize"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q", "batchSize": True}},
     "batchSize"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q", "batchWindowSeconds": 61}},
     "batchWindowSeconds"),
    ({"triggerName": "t", "triggerType": "queue", "triggerConfig": {"queueName": "q", "startFrom": "now"}},
     "startFrom"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1m",
                                                                    "enable": "yes"}}, "enable"),
    ({"triggerName": "t", "triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1m",
                                                                    "payload": "x" * 70000}}, "payload"),
    ({"triggerName": "t", "triggerType": "http", "description": "d" * 257}, "description"),
    ({"triggerName": "t", "triggerType": "http", "extra": 1}, "extra"),
    ("[]", "object"),
])
def test_bad_configs_name_the_field(body, field):
    with pytest.raises(InvalidArgument, match=field):
        create(body)


def test_http_defaults():
    config = create({"triggerName": "web", "triggerType": "http"}).config
    assert config.auth_type == "function" and config.methods == defaults.HTTP_METHODS


def test_update_keeps_name_and_type():
    trigger = create({"triggerName": "t", "triggerType": "http"})
    changed = trigger.updated({"triggerConfig": {"authType": "anonymous", "methods": ["POST"]}}, 2.0)
    assert changed.config.methods == ("POST",) and changed.name == "t" and changed.updated_at == 2.0
    with pytest.raises(InvalidArgument, match="triggerType"):
        trigger.updated({"triggerType": "timer"}, 2.0)
    with pytest.raises(InvalidArgument, match="triggerName"):
        trigger.updated({"triggerName": "u"}, 2.0)


def test_json_round_trip():
    trigger = create({"triggerName": "q", "triggerType": "queue", "description": "d",
                      "triggerConfig": {"queueName": "jobs", "batchSize": 10}})
    assert Trigger.from_json(trigger.to_json()) == trigger


# -- schedules
@pytest.mark.parametrize("text,every", [("@every 1s", 1), ("@every 30s", 30), ("@every 5m", 300),
                                        ("@every 1h30m", 5400), ("@every 2h", 7200)])
def test_every(text, every):
    assert Schedule.parse(text).every_s == every


@pytest.mark.parametrize("text", ["@every 0s", "@every", "@every 1", "@every 1d", "@every -1s", "@every 1s\n",
                                  "@every 1s ", "0 0/5 * * *", "0 0/5 * * * * *", "0 0/5 * * * *\n",
                                  "0  0/5 * * * *", "0 0/5\t* * * *", "61 * * * * *", "0 0 25 * * *",
                                  "0 0 0 32 * ?", "x y z * * *", "CRON_TZ=Mars/Base 0 0 8 * * *",
                                  "CRON_TZ=../../etc/passwd 0 0 8 * * *", "CRON_TZ=Asia/Shanghai @every 1m",
                                  "", None, 5, "0 0 8 * * *" + "\x00", "* " * 200])
def test_bad_expressions(text):
    with pytest.raises(InvalidArgument, match="cronExpression"):
        Schedule.parse(text)


def test_cron_with_seconds_question_mark_and_names():
    after = ts("2026-11-27T07:48:13")
    assert iso_utc(Schedule.parse("0 0/5 * * * *").next_after(after, 0)) == "2026-11-27T07:50:00Z"
    assert iso_utc(Schedule.parse("30 * * * * *").next_after(after, 0)) == "2026-11-27T07:48:30Z"
    # 2026-11-27 is a Friday: the next Monday-to-Friday 08:00 is the same day; the next MON is the 30th
    assert iso_utc(Schedule.parse("0 0 8 ? * MON-FRI").next_after(after, 0)) == "2026-11-27T08:00:00Z"
    assert iso_utc(Schedule.parse("0 0 8 ? * MON").next_after(after, 0)) == "2026-11-30T08:00:00Z"
    assert iso_utc(Schedule.parse("0 0 0 1 JAN ?").next_after(after, 0)) == "2027-01-01T00:00:00Z"


def test_cron_time_zone():
    after = ts("2026-11-27T07:48:13")  # 15:48 in Shanghai: its next 08:00 is tomorrow's, 00:00 UTC
    assert iso_utc(Schedule.parse("CRON_TZ=Asia/Shanghai 0 0 8 * * *").next_after(after, 0)) == \
        "2026-11-28T00:00:00Z"


def test_every_keeps_its_phase_and_never_replays_missed_firings():
    schedule = Schedule.parse("@every 10s")
    assert next_due(schedule, due=100.0, now=100.2) == 110.0
    # Down for an hour: one catch-up firing now, then on from the present, on the old phase.
    assert next_due(schedule, due=100.0, now=3700.5) == 3710.0
    cron = Schedule.parse("0 * * * * *")
    assert next_due(cron, due=ts("2026-11-27T07:00:00"), now=ts("2026-11-27T09:30:10")) == ts("2026-11-27T09:31:00")


# -- HTTP mappings
def request(**kw):
    base = dict(method="GET", raw_path="/", path="/", query="", headers=[], body=b"", protocol="HTTP/1.1",
                source_ip="10.0.0.1", domain="localhost:8080", request_id="rid", now=1796000000.25)
    return th.RequestInfo(**(base | kw))


def test_http_event_fields():
    req = request(method="POST", raw_path="/a%20b/c", path="/a b/c", query="x=1&x=2&y=&z=%2F",
                  headers=[("content-type", "text/plain"), ("Cookie", "a"), ("cookie", "b"), ("User-Agent", "ua/1"),
                           ("X-Fc-Request-Id", "forged"), ("x-fc-anything", "x"), ("Authorization", "Bearer t"),
                           ("x_fc_request_id", "forged"), ("X_Faas_Trigger", "timer/x"), ("x-faas-target", "/"),
                           ("Connection", "keep-alive")],
                  body=b"hello")
    event = json.loads(th.http_event(req, drop_authorization=True))
    assert event["version"] == "v1" and event["rawPath"] == "/a%20b/c"
    assert event["body"] == "hello" and event["isBase64Encoded"] is False
    assert event["headers"] == {"Content-Type": "text/plain", "Cookie": "a,b", "User-Agent": "ua/1"}
    assert event["queryParameters"] == {"x": "1,2", "y": "", "z": "/"}
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/a b/c", "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1",
                           "userAgent": "ua/1"}
    assert ctx["requestId"] == "rid" and ctx["timeEpoch"] == "1796000000250" and ctx["time"].endswith("Z")
    assert ctx["domainName"] == "localhost:8080"


def test_http_event_escapes_what_it_is_given():
    hostile = '"},"injected":{"x":"\\\n\u2028\x00'
    req = request(raw_path="/" + hostile, path="/" + hostile, query="q=" + hostile, domain=hostile,
                  headers=[("X-Evil", hostile), ("User-Agent", hostile)], body=hostile.encode())
    event = json.loads(th.http_event(req, drop_authorization=True))
    assert "injected" not in event and event["body"] == hostile and event["rawPath"] == "/" + hostile
    assert event["headers"]["X-Evil"] == hostile and event["requestContext"]["http"]["userAgent"] == hostile
    assert event["requestContext"]["domainName"] == hostile and event["queryParameters"] == {"q": hostile}


def test_http_event_binary_body_and_anonymous_authorization():
    event = json.loads(th.http_event(request(body=b"\xff\x00\x01", headers=[("Authorization", "Basic x")]),
                                     drop_authorization=False))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00\x01"
    assert event["headers"] == {"Authorization": "Basic x"}  # the function's own auth scheme passes


@pytest.mark.parametrize("raw,expected", [("/function/f", ("/", "")), ("/function/f/", ("/", "")),
                                          ("/function/f/a/b?x=1", ("/a/b", "x=1")),
                                          ("/function/f?q", ("/", "q")), ("/function/f/%2F?", ("/%2F", ""))])
def test_split_raw_path(raw, expected):
    assert th.split_raw_path(raw) == expected


def answer(result, content_type="application/json"):
    return th.http_answer(json.dumps(result).encode() if content_type == "application/json" else result,
                          content_type)


def test_answer_maps_a_response_shaped_result():
    got = answer({"statusCode": 201, "headers": {"X-A": "1", "Set-Cookie": ["a=1", "b=2"]}, "body": "made"})
    assert got.status == 201 and got.body == b"made"
    assert ("X-A", "1") in got.headers and ("Set-Cookie", "a=1") in got.headers and ("Set-Cookie", "b=2") in got.headers
    assert ("Content-Type", "text/plain; charset=utf-8") in got.headers
    binary = answer({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True})
    assert binary.body == b"\x00\x01" and ("Content-Type", "application/octet-stream") in binary.headers
    as_json = answer({"statusCode": 200, "body": {"a": 1}})
    assert json.loads(as_json.body) == {"a": 1} and ("Content-Type", "application/json") in as_json.headers


def test_answer_passes_other_results():
    assert answer({"a": 1}).status == 200 and json.loads(answer({"a": 1}).body) == {"a": 1}
    extra = answer({"statusCode": 200, "other": 1})  # not the response shape: the result itself
    assert extra.status == 200 and json.loads(extra.body) == {"statusCode": 200, "other": 1}
    text = th.http_answer(b"plain", "text/plain; charset=utf-8")
    assert text.body == b"plain" and text.headers == [("Content-Type", "text/plain; charset=utf-8")]


@pytest.mark.parametrize("result", [
    {"statusCode": 99}, {"statusCode": 600}, {"statusCode": "200"}, {"statusCode": True},
    {"statusCode": 200, "headers": {"X-A": "1\r\nSet-Cookie: evil=1"}},
    {"statusCode": 200, "headers": {"X-A\n": "1"}}, {"statusCode": 200, "headers": {"Bad Name": "1"}},
    {"statusCode": 200, "headers": {"X-A": "a\x00"}}, {"statusCode": 200, "headers": {"X-A": {"x": 1}}},
    {"statusCode": 200, "headers": {"X-A": "x" * 9000}}, {"statusCode": 200, "headers": "X-A: 1"},
    {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
    {"statusCode": 200, "body": "", "isBase64Encoded": "yes"},
])
def test_answer_refuses_what_cannot_be_a_response(result):
    with pytest.raises(th.InvalidResponse):
        answer(result)


def test_answer_drops_framing_headers():
    got = answer({"statusCode": 200, "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked",
                                                 "Connection": "close"}, "body": "x"})
    assert [k for k, _ in got.headers] == ["Content-Type"]


def test_proxied_headers():
    pairs = [("Host", "h"), ("Connection", "close"), ("X-Fc-Request-Id", "forged"), ("Authorization", "Bearer s"),
             ("x_fc_request_id", "forged"), ("X_FC-Function_Name", "f"), ("X-Faas-Node-Token", "t"),
             ("x_faas_trigger", "timer/x"), ("Content-Length", "3"), ("Accept", "*/*")]
    assert th.proxied_request_headers(pairs, drop_authorization=True) == [("Host", "h"), ("Content-Length", "3"),
                                                                          ("Accept", "*/*")]
    assert ("Authorization", "Bearer s") in th.proxied_request_headers(pairs, drop_authorization=False)
    assert th.proxied_response_headers([("Transfer-Encoding", "chunked"), ("X-A", "1")]) == [("X-A", "1")]


@pytest.mark.parametrize("name,platform", [
    ("X-Fc-Request-Id", True), ("x_fc_request_id", True), ("X_FC_ATTEMPT", True), ("x-faas-trigger", True),
    ("X_Faas_Node_Token", True), ("x-fc_status", True), ("X-Fcx", False), ("x-fc", False), ("xfc-id", False),
    ("X-Faasx-1", False), ("Accept", False),
])
def test_platform_headers_in_every_spelling(name, platform):
    assert th.platform_header(name) is platform


def test_parse_config_http_may_be_absent():
    assert parse_config("http", None).auth_type == "function"


# -- a Lambda-shaped function's HTTP event: Lambda's function URL event (payload 2.0)
def test_function_url_event_fields():
    req = request(method="POST", raw_path="/a%20b/c", path="/a b/c", query="x=1&x=2&y=",
                  headers=[("Content-Type", "text/plain"), ("Cookie", "a=1; b=2"), ("cookie", "c=3"),
                           ("User-Agent", "ua/1"), ("X-Fc-Request-Id", "forged"), ("x_faas_trigger", "timer/x"),
                           ("Authorization", "Bearer t"), ("Connection", "keep-alive"), ("X-Multi", "1"),
                           ("x-multi", "2")],
                  body=b"hello")
    event = json.loads(url_event(req, drop_authorization=True, url_id="fn"))
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == \
        ("2.0", "$default", "/a%20b/c", "x=1&x=2&y=")
    assert event["headers"] == {"content-type": "text/plain", "user-agent": "ua/1", "x-multi": "1,2"}
    assert event["cookies"] == ["a=1", "b=2", "c=3"] and event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert (event["body"], event["isBase64Encoded"]) == ("hello", False)
    ctx = event["requestContext"]
    assert ctx["http"] == {"method": "POST", "path": "/a b/c", "protocol": "HTTP/1.1", "sourceIp": "10.0.0.1",
                           "userAgent": "ua/1"}
    assert (ctx["accountId"], ctx["apiId"], ctx["domainPrefix"], ctx["stage"]) == ("anonymous", "fn", "fn", "$default")
    assert ctx["timeEpoch"] == 1796000000250 and ctx["time"] == "30/Nov/2026:00:53:20 +0000"


def test_function_url_event_without_query_body_or_cookies_and_with_a_binary_body():
    bare = json.loads(url_event(request(), drop_authorization=False, url_id="fn"))
    assert "queryStringParameters" not in bare and "cookies" not in bare and "body" not in bare
    assert bare["isBase64Encoded"] is False
    binary = json.loads(url_event(request(body=b"\xff\x00", headers=[("Authorization", "Basic x")]),
                                  drop_authorization=False, url_id="fn"))
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"
    assert binary["headers"] == {"authorization": "Basic x"}  # the function's own auth scheme passes
    hostile = '"},"injected":{"x":"\\\n\u2028\x00'
    escaped = json.loads(url_event(request(raw_path="/" + hostile, query="q=" + hostile, body=hostile.encode(),
                                           headers=[("Cookie", hostile)]), drop_authorization=True, url_id="fn"))
    assert "injected" not in escaped and escaped["body"] == hostile and escaped["rawPath"] == "/" + hostile


def test_a_function_url_result_may_set_cookies():
    got = th.http_answer(json.dumps({"statusCode": 200, "cookies": ["a=1", "b=2; Path=/"], "body": "x"}).encode(),
                         "application/json", cookies=True)
    assert ("Set-Cookie", "a=1") in got.headers and ("Set-Cookie", "b=2; Path=/") in got.headers
    plain = th.http_answer(json.dumps({"statusCode": 200, "cookies": ["a=1"]}).encode(), "application/json")
    assert plain.status == 200 and json.loads(plain.body)["cookies"] == ["a=1"]  # not FC's shape: the result itself


@pytest.mark.parametrize("cookies", ["a=1", [1], ["a=1\r\nX-Evil: 1"], ["a\x00"], ["x" * 9000], {"a": "1"}])
def test_a_function_url_result_with_bad_cookies_is_invalid(cookies):
    with pytest.raises(th.InvalidResponse):
        th.http_answer(json.dumps({"statusCode": 200, "cookies": cookies}).encode(), "application/json", cookies=True)
