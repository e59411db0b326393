"""The in-container runtime, run in-process: loading, errors, results, and the HTTP protocol."""

import json
import socket
import threading

import pytest

from fcruntime import errors
from fcruntime.loader import Loader
from fcruntime.server import Handler, Runtime, Server, encode_result


@pytest.fixture
def code_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    import sys

    for name in [m for m in sys.modules if m.startswith("rt_")]:
        del sys.modules[name]


def write(code_dir, name, text):
    (code_dir / name).write_text(text)


def load_error(code_dir, handler):
    with pytest.raises(errors.RuntimeFault) as info:
        Loader(str(code_dir)).load(handler)
    return info.value


@pytest.mark.parametrize("handler", ["", "index", "index.", ".handler", "in-dex.handler", "a..b"])
def test_bad_handler_string(code_dir, handler):
    assert load_error(code_dir, handler).error_type == errors.INVALID_HANDLER


def test_missing_module(code_dir):
    fault = load_error(code_dir, "rt_nothere.handler")
    assert fault.error_type == errors.IMPORT_MODULE_ERROR
    assert "rt_nothere" in str(fault)


def test_missing_dependency_of_the_module(code_dir):
    write(code_dir, "rt_dep.py", "import rt_not_installed\ndef handler(e, c): pass\n")
    fault = load_error(code_dir, "rt_dep.handler")
    assert fault.error_type == errors.IMPORT_MODULE_ERROR and "rt_not_installed" in str(fault)


def test_syntax_error(code_dir):
    write(code_dir, "rt_syntax.py", "def handler(e, c):\n    return (\n")
    fault = load_error(code_dir, "rt_syntax.handler")
    assert fault.error_type == errors.SYNTAX_ERROR
    doc = errors.make_error(fault)
    assert doc["errorType"] == "UserCodeSyntaxError"
    assert "rt_syntax.py" in doc["errorMessage"] and any("return (" in line for line in doc["stackTrace"])


def test_missing_handler(code_dir):
    write(code_dir, "rt_nohandler.py", "x = 1\n")
    assert load_error(code_dir, "rt_nohandler.handler").error_type == errors.HANDLER_NOT_FOUND
    assert load_error(code_dir, "rt_nohandler.x").error_type == errors.HANDLER_NOT_FOUND  # not callable


def test_each_load_failure_has_fc_error_type(code_dir):
    """What FC's runtimes answer for each way loading fails, as the error document names it."""
    write(code_dir, "rt_kinds.py", "x = 1\n")
    write(code_dir, "rt_broken.py", "def handler(:\n")
    cases = {"no-dot": "InvalidHandler", "rt_absent.handler": "ImportModuleError",
             "rt_kinds.handler": "HandlerNotFound", "rt_broken.handler": "UserCodeSyntaxError"}
    assert {handler: errors.make_error(load_error(code_dir, handler))["errorType"]
            for handler in cases} == cases


def test_make_error_removes_runtime_frames(code_dir):
    write(code_dir, "rt_raise.py", "def inner():\n    raise ValueError('boom')\ndef handler(e, c):\n    inner()\n")
    runtime = Runtime({"FC_CODE_DIR": str(code_dir)})
    meta = runtime.function_meta({"x-fc-function-handler": "rt_raise.handler"})
    with pytest.raises(ValueError) as info:
        runtime.invoke("r1", meta, b"", 1)
    doc = errors.make_error(info.value)
    assert doc["errorType"] == "ValueError" and doc["errorMessage"] == "boom"
    # The test's own frame is there (it called the runtime); the runtime's frames are not.
    assert [f for f in doc["stackTrace"] if "rt_raise.py" in f] == doc["stackTrace"][-2:]
    assert not any("fcruntime" in frame for frame in doc["stackTrace"])


@pytest.mark.parametrize("result,body,ctype", [
    ("héllo", "héllo".encode(), "text/plain; charset=utf-8"),
    (b"\x00\x01", b"\x00\x01", "application/octet-stream"),
    ({"a": [1, 2]}, b'{"a": [1, 2]}', "application/json"),
    ([1, "x"], b'[1, "x"]', "application/json"),
    (None, b"", "text/plain; charset=utf-8"),
    (42, b"42", "application/json"),
])
def test_encode_result(result, body, ctype):
    assert encode_result(result) == (body, ctype)


@pytest.mark.parametrize("result", [object(), float("nan"), {"x": float("inf")}, [-float("inf")]])
def test_encode_result_refuses_what_json_cannot_hold(result):
    """NaN and Infinity are not JSON: sent as application/json they would break the caller's parser."""
    with pytest.raises(errors.RuntimeFault) as info:
        encode_result(result)
    assert info.value.error_type == errors.SERIALIZATION_ERROR


def test_initializer_runs_exactly_once(code_dir):
    write(code_dir, "rt_init.py", "CALLS = []\ndef init(ctx):\n    CALLS.append(ctx.request_id)\n"
                                  "def handler(e, c):\n    return len(CALLS)\n")
    runtime = Runtime({"FC_CODE_DIR": str(code_dir)})
    meta = runtime.function_meta({"x-fc-function-handler": "rt_init.handler",
                                  "x-fc-function-initializer": "rt_init.init"})
    threads = [threading.Thread(target=runtime.initialize, args=(f"r{i}", meta)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runtime.initialize("again", meta) is None
    assert runtime.invoke("r", meta, b"", 1) == (b"1", "application/json")


def test_failed_initializer_reports_the_same_error_every_time(code_dir):
    write(code_dir, "rt_badinit.py", "N = []\ndef init(ctx):\n    N.append(1)\n    raise RuntimeError('no db')\n")
    runtime = Runtime({"FC_CODE_DIR": str(code_dir)})
    meta = runtime.function_meta({"x-fc-function-handler": "rt_badinit.init",
                                  "x-fc-function-initializer": "rt_badinit.init"})
    first = runtime.initialize("a", meta)
    assert first["errorType"] == "RuntimeError" and first["errorMessage"] == "no db"
    assert runtime.initialize("b", meta) == first
    import rt_badinit

    assert rt_badinit.N == [1]


def test_context_carries_what_the_contract_says(code_dir):
    write(code_dir, "rt_ctx.py", "def handler(e, c):\n    f = c.function\n"
                                 "    return [c.request_id, f.name, f.handler, f.memory_size, f.timeout,"
                                 " f.initializer, 0 < c.get_remaining_time_in_millis() <= 7000]\n")
    runtime = Runtime({"FC_CODE_DIR": str(code_dir), "FC_FUNCTION_NAME": "fn"})
    meta = runtime.function_meta({"x-fc-function-handler": "rt_ctx.handler", "x-fc-function-memory": "256",
                                  "x-fc-function-timeout": "7"})
    body, _ = runtime.invoke("rid-1", meta, b"", 1)
    assert json.loads(body) == ["rid-1", "fn", "rt_ctx.handler", 256, 7, "", True]


# -- the HTTP protocol, on a real socket
@pytest.fixture
def server(code_dir):
    write(code_dir, "rt_http.py", "def handler(event, context):\n"
                                  "    if event == b'raise':\n        raise KeyError('k')\n"
                                  "    return event.upper()\n")
    Handler.runtime = Runtime({"FC_CODE_DIR": str(code_dir), "FC_FUNCTION_HANDLER": "rt_http.handler"})
    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def http(port, method, path, body=b"", headers=None, sock=None):
    """One request on `sock` (kept alive); returns (status, headers, body, number of recv calls)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(head.encode() + b"\r\n" + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(hdrs["content-length"])
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1]), hdrs, rest


def test_protocol_invoke_initialize_and_hooks(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        assert http(server, "POST", "/initialize", sock=sock)[0] == 200
        status, hdrs, body = http(server, "POST", "/invoke", b"hello", {"x-fc-request-id": "r1"}, sock=sock)
        assert (status, body) == (200, b"HELLO")
        status, hdrs, body = http(server, "POST", "/invoke", b"raise", sock=sock)
        assert status == 200 and hdrs["x-fc-status"] == "404"
        assert json.loads(body)["errorType"] == "KeyError" and "x-fc-error-type" not in hdrs
        assert http(server, "GET", "/pre-stop", sock=sock)[0] == 200
        assert http(server, "GET", "/pre-freeze", sock=sock)[0] == 200


def raw_exchange(port, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(data)
        sock.settimeout(5)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


@pytest.mark.parametrize("request_bytes,status", [
    (b"NONSENSE\r\n\r\n", b" 400 "),
    (b"POST /invoke HTTP/1.1\r\nno colon here\r\n\r\n", b" 400 "),
    (b"POST /invoke HTTP/1.1\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(150)) + b"\r\n", b" 431 "),
])
def test_protocol_rejects_malformed_requests(server, request_bytes, status):
    assert status in raw_exchange(server, request_bytes).split(b"\r\n")[0]


def test_protocol_connection_close_is_honoured(server):
    reply = raw_exchange(server, b"POST /invoke HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"AB")  # and the server closed: recv ended


def test_each_response_leaves_in_one_write():
    """Headers and body in one send: two sends stall ~40 ms per request on keep-alive (Nagle)."""
    writes = []

    class Wfile:
        def write(self, data):
            writes.append(bytes(data))

    handler = Handler.__new__(Handler)
    handler.wfile = Wfile()
    handler._reply(200, b"body", "text/plain", [("x-fc-status", "404")])
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\nbody")
    assert b"Content-Length: 4\r\n" in writes[0] and b"x-fc-status: 404\r\n" in writes[0]


def test_connections_set_tcp_nodelay(server):
    seen = []
    original = Handler.setup

    def setup(self):
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    Handler.setup = setup
    try:
        with socket.create_connection(("127.0.0.1", server)) as sock:
            http(server, "GET", "/pre-stop", sock=sock)
    finally:
        Handler.setup = original
    assert seen and seen[0] != 0


class _Recorder:
    def __init__(self):
        self.writes = []

    def write(self, text):
        self.writes.append(text)
        return len(text)

    def flush(self):
        pass


def test_quiet_invocation_writes_nothing(monkeypatch):
    from fcruntime import context as ctx

    out = _Recorder()
    monkeypatch.setattr("sys.__stdout__", out)
    stream = ctx.MarkedStream(out)
    ctx.begin_invocation("quiet-1")
    assert ctx.quiet()
    ctx.end_invocation("quiet-1", ctx.quiet())
    assert out.writes == []
    # A partial line is output too: not quiet, and it is written with the markers.
    ctx.begin_invocation("partial-1")
    stream.write("no newline")
    assert not ctx.quiet()
    ctx.end_invocation("partial-1", ctx.quiet())
    assert "".join(out.writes) == ("FC Invoke Start RequestId: partial-1\npartial-1 no newline\n"
                                   "FC Invoke End RequestId: partial-1\n")


def test_output_lands_between_the_markers(monkeypatch):
    from fcruntime import context as ctx

    out = _Recorder()
    monkeypatch.setattr("sys.__stdout__", out)
    stream = ctx.MarkedStream(out)
    ctx.begin_invocation("loud-1")
    stream.write("hello\n")
    stream.write("again\n")
    assert not ctx.quiet()
    ctx.end_invocation("loud-1")
    assert "".join(out.writes) == ("FC Invoke Start RequestId: loud-1\nloud-1 hello\nloud-1 again\n"
                                   "FC Invoke End RequestId: loud-1\n")


def test_lines_are_tagged_per_thread_and_partial_lines_are_kept(monkeypatch):
    from fcruntime import context as ctx

    out = _Recorder()
    monkeypatch.setattr("sys.__stdout__", out)
    stream = ctx.MarkedStream(out)
    results = {}

    def invocation(rid):
        ctx.begin_invocation(rid)
        stream.write("part ")
        stream.write("one\nsecond")
        ctx.end_invocation(rid)
        results[rid] = True

    threads = [threading.Thread(target=invocation, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = "".join(out.writes).splitlines()
    for i in range(4):
        assert f"r{i} part one" in lines and f"r{i} second" in lines
    stream.write("outside\n")  # no invocation on this thread: untouched
    assert out.writes[-1] == "outside\n"


# -- a cell: a runtime with no function until /specialize
@pytest.fixture
def cell(tmp_path, monkeypatch):
    """A runtime started as a cell on an empty code directory; the test places the code, as the host does."""
    code = tmp_path / "code"
    code.mkdir()
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RT_CELL_VAR", raising=False)
    Handler.runtime = Runtime({"FC_CODE_DIR": str(code), "FC_CELL": "1", "FC_FUNCTION_HANDLER": "rt_cell.handler"})
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv.server_address[1], code
    srv.shutdown()
    srv.server_close()
    import sys

    sys.modules.pop("rt_cell", None)


def test_cell_refuses_calls_until_specialized_then_runs_its_function_once(cell):
    port, code = cell
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert json.loads(http(port, "GET", "/specialize", sock=sock)[2]) == {"specialized": False}
        status, hdrs, body = http(port, "POST", "/invoke", b"x", sock=sock)
        assert status == 503 and json.loads(body)["errorType"] == "CellNotSpecialized"
        assert http(port, "POST", "/initialize", sock=sock)[0] == 503
        # The code appears only now, as when the host moves it into the cell's code directory.
        write(code, "rt_cell.py", "import os\ndef handler(event, context):\n"
                                  "    return os.environ['RT_CELL_VAR'] + ' ' + os.getcwd()\n")
        status, _, _ = http(port, "POST", "/specialize", json.dumps({"environment": {"RT_CELL_VAR": "v1"}}).encode(),
                            sock=sock)
        assert status == 200
        assert json.loads(http(port, "GET", "/specialize", sock=sock)[2]) == {"specialized": True}
        status, _, body = http(port, "POST", "/invoke", b"", sock=sock)
        assert (status, body) == (200, f"v1 {code}".encode())
        # Once only: a second specialize (the function's own code could send one) is refused.
        again = http(port, "POST", "/specialize", json.dumps({"environment": {"RT_CELL_VAR": "v2"}}).encode(),
                     sock=sock)
        assert again[0] == 409
        assert http(port, "POST", "/invoke", b"", sock=sock)[2] == f"v1 {code}".encode()


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"environment": []}', b'{"environment": {"A": 1}}',
                                  b'{"environment": {"A=B": "x"}}', b'{"environment": {"A": "x\\u0000"}}',
                                  b'{"env": {}}', b"[" * 100000])
def test_cell_refuses_a_malformed_specialize_and_stays_a_cell(cell, body):
    port, _ = cell
    with socket.create_connection(("127.0.0.1", port)) as sock:
        status, _, reply = http(port, "POST", "/specialize", body, sock=sock)
        assert status == 400 and "bad specialize request" in json.loads(reply)["errorMessage"]
        assert json.loads(http(port, "GET", "/specialize", sock=sock)[2]) == {"specialized": False}


def test_a_function_runtime_refuses_specialize(server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        assert http(server, "POST", "/specialize", b'{"environment": {}}', sock=sock)[0] == 409


def test_cell_refuses_an_oversized_specialize(cell):
    port, _ = cell
    body = json.dumps({"environment": {"BIG": "x" * (1024 * 1024)}}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        status, _, reply = http(port, "POST", "/specialize", body, sock=sock)
        assert status == 413 and "too large" in json.loads(reply)["errorMessage"]
        assert json.loads(http(port, "GET", "/specialize", sock=sock)[2]) == {"specialized": False}
