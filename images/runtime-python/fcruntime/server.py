"""The HTTP server of the container protocol. Each response goes out in one send, with TCP_NODELAY set.

It listens on FC_SERVER_PORT and, when FC_SERVER_SOCKET names a path, on that Unix socket too: the
platform on the same host reaches it there at a fraction of the cost of the bridge network.

With FC_CELL=1 it starts as a cell: a runtime with no function yet. Its code directory is empty until the
platform places a function version's files there; then `POST /specialize` (a JSON body: the function's
environment) makes it that function's runtime, once: the environment is set, import caches are dropped and
the working directory is entered again (it is another directory now). Until then it refuses /initialize and
/invoke; after it, a second /specialize is refused.
"""

import base64
import io
import itertools
import json
import os
import resource
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import awslambda, wsgi
from . import context as ctx
from .errors import RUNTIME_EXIT, SERIALIZATION_ERROR, RuntimeFault, make_error
from .loader import Loader

MAX_EVENT_BYTES = 32 * 1024 * 1024
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
MAX_SPECIALIZE_BYTES = 1024 * 1024
NOT_SPECIALIZED = "CellNotSpecialized"


def max_memory_mb():
    """The most memory this runtime's process has used so far, in MiB (Lambda's "Max Memory Used")."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + 1023) // 1024


def encode_result(result):
    """(body, content type) for what a handler returned: str, bytes, None or anything JSON can encode."""
    if result is None:
        return b"", "text/plain; charset=utf-8"
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result), "application/octet-stream"
    if isinstance(result, str):
        return result.encode("utf-8"), "text/plain; charset=utf-8"
    try:
        return json.dumps(result, allow_nan=False).encode("utf-8"), "application/json"
    except (TypeError, ValueError, RecursionError) as exc:  # NaN and Infinity are not JSON either
        raise RuntimeFault(
            SERIALIZATION_ERROR, f"Unable to serialize the handler's result of type {type(result).__name__}: {exc}"
        ) from exc


def forget_path_caches():
    """What importlib.invalidate_caches() does for imports from sys.path (the directories whose files were just
    placed: /code, /var/fc/deps, /opt), without the import of importlib.metadata that Python 3.12 and later make
    there (about 20 ms of a cold start): directories seen missing are looked at again, listed ones listed again."""
    for name, finder in list(sys.path_importer_cache.items()):
        if finder is None:
            del sys.path_importer_cache[name]
        elif hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()


class Runtime:
    """What the server drives: the loader, the once-only initializer and the function's settings."""

    def __init__(self, env):
        self.env = env
        self.code_dir = env.get("FC_CODE_DIR", "/code")
        self.cell = env.get("FC_CELL") == "1"
        """Started as a cell: it has no function until /specialize gives it one."""
        self.loader = None if self.cell else Loader(self.code_dir)
        self._init_lock = threading.Lock()
        self._init_done = False
        self._init_error = None

    @property
    def ready(self):
        return self.loader is not None

    def _loader(self):
        assert self.loader is not None, "the server refuses /initialize and /invoke until the runtime is ready"
        return self.loader

    def specialize(self, body):
        """Become the runtime of the function whose files are now in the code directory: `body` is JSON,
        `{"environment": {name: value}}`. Returns None, or (status, error message) when refused."""
        with self._init_lock:
            if not self.cell or self.loader is not None:
                return 409, "this runtime already runs a function"
            try:
                doc = json.loads(body)
                environment = doc["environment"]
                if not isinstance(environment, dict) or not all(
                        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
                        for k, v in environment.items()):
                    raise ValueError("environment must map names to strings")
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                return 400, f"bad specialize request: {exc}"
            os.environ.update(environment)
            self.env.update(environment)
            if "TZ" in environment:
                time.tzset()
            os.chdir(self.code_dir)  # the directory entered at start is the empty one the code now covers
            forget_path_caches()
            self.loader = Loader(self.code_dir)
            return None

    def function_meta(self, headers):
        def get(header, env_name, default=""):
            return headers.get(header) or self.env.get(env_name, default)

        return ctx.FunctionMeta(
            name=get("x-fc-function-name", "FC_FUNCTION_NAME"),
            handler=get("x-fc-function-handler", "FC_FUNCTION_HANDLER", "index.handler"),
            memory_size=int(get("x-fc-function-memory", "FC_FUNCTION_MEMORY_SIZE", "128")),
            timeout=int(get("x-fc-function-timeout", "FC_FUNCTION_TIMEOUT", "60")),
            initializer=get("x-fc-function-initializer", "FC_FUNCTION_INITIALIZER"),
            initialization_timeout=int(get("x-fc-initialization-timeout", "FC_INITIALIZATION_TIMEOUT", "30")),
            handler_type=get("x-fc-function-handler-type", "FC_FUNCTION_HANDLER_TYPE", "event"),
        )

    def initialize(self, request_id, meta):
        """Run the initializer exactly once; later calls return the first outcome (None or an error document)."""
        with self._init_lock:
            if not self._init_done:
                self._init_done = True
                if meta.initializer:
                    ctx.set_request_id(request_id)
                    try:
                        init = self._loader().load(meta.initializer)
                        init(ctx.Context(request_id, meta, time.monotonic() + meta.initialization_timeout))
                    except Exception as exc:
                        self._init_error = make_error(exc)
            return self._init_error

    def invoke(self, request_id, meta, event, attempt):
        """Call the handler: (body, content type) on success; raises on failure."""
        func = self._loader().load(meta.handler)
        if meta.handler_type == "lambda":
            return awslambda.call(func, request_id, meta, event)
        context = ctx.Context(request_id, meta, time.monotonic() + meta.timeout, attempt)
        if meta.handler_type == "wsgi":
            return encode_result(self._wsgi_event(func, event, context))
        return encode_result(func(event, context))

    @staticmethod
    def _wsgi_event(app, event, context):
        """A WSGI function called with an HTTP event (an async call through its trigger): the HTTP result."""
        try:
            doc = json.loads(event)
            environ = wsgi.environ_of_event(doc, context)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RuntimeFault("NotAnHttpRequest", "a WSGI function is called through its HTTP trigger, with an "
                                                   f"HTTP request: {exc}") from None
        call = wsgi.Call(app, environ)
        body = b"".join(call.chunks())
        if call.status is None:
            raise ValueError("the application returned without calling start_response")
        headers: dict = {}
        for name, value in call.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return {"statusCode": int(call.status.split(" ", 1)[0]), "headers": headers,
                "body": base64.b64encode(body).decode(), "isBase64Encoded": True}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fc-python-runtime/1"
    runtime: Runtime  # set by serve()
    raw_requestline: bytes  # set by the stdlib's handle_one_request before parse_request (typeshed leaves it out)

    def setup(self):
        super().setup()
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # the access log would mix with the function's own output
        pass

    def parse_request(self):
        """The request line, and the headers parsed into `fields`, a dict with lower-case names.

        Replaces the stdlib's parsing through the email package (its `headers`), which costs more than the
        rest of a no-op invocation when the platform sends its x-fc-* headers.
        """
        self.command = ""
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        parts = self.requestline.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = parts
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(raw) > MAX_HEADER_LINE or len(headers) > MAX_HEADERS:
                self.send_error(431, "Request header fields too large")
                return False
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep:
                self.send_error(400, "Bad header line")
                return False
            headers[name.strip().lower()] = value.strip()
        self.fields = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive")
        return True

    def _reply(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=()):
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", f"Content-Type: {content_type}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _reply_error(self, status, error, unhandled=False, extra=()):
        headers = [("x-fc-status", "404"), *extra]
        if unhandled:
            headers.append(("x-fc-error-type", "UnhandledInvocationError"))
        self._reply(status, json.dumps(error).encode("utf-8"), "application/json", headers)

    def _read_body(self):
        length = int(self.fields.get("content-length") or 0)
        if length > MAX_EVENT_BYTES:
            raise ValueError("event too large")
        return self.rfile.read(length) if length else b""

    def _web(self):
        """A request the platform proxied to a WSGI function, as its client sent it: the application's answer
        goes back as it makes it (the body chunked, each piece sent as the application yields it)."""
        headers = self.fields
        request_id = headers.get("x-fc-request-id", "-")
        meta = self.runtime.function_meta(headers)
        if not self.runtime.ready:
            self._reply(503, b"this cell runs no function yet")
            return
        self.close_connection = True  # one request per connection: a body left unread cannot spill into the next
        error = self.runtime.initialize(request_id, meta)
        if error is not None:
            self._reply_error(502, error, unhandled=True)
            return
        ctx.begin_invocation(request_id)
        try:
            body: io.RawIOBase
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = wsgi.ChunkedBody(self.rfile, MAX_EVENT_BYTES)
            else:
                body = wsgi.Body(self.rfile, min(int(headers.get("content-length") or 0), MAX_EVENT_BYTES))
            context = ctx.Context(request_id, meta, time.monotonic() + meta.timeout)
            try:
                app = self.runtime._loader().load(meta.handler)
                environ = wsgi.environ_of(self.command, self.path, headers, body, context,
                                          remote=self.client_address[0] if self.client_address else "")
                environ["wsgi.input_terminated"] = True
                call = wsgi.Call(app, environ)
                head, rest = call.first()
            except Exception as exc:
                traceback.print_exc()
                self._reply_error(502, make_error(exc), unhandled=True)
                return
            bodiless = self.command == "HEAD"
            lines = [f"HTTP/1.1 {call.status}", *(f"{n}: {v}" for n, v in call.headers), "Connection: close"]
            lines.append("Content-Length: 0" if bodiless else "Transfer-Encoding: chunked")
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            try:
                for chunk in itertools.chain(head, rest):
                    if not bodiless:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                if not bodiless:
                    self.wfile.write(b"0\r\n\r\n")
            except ConnectionError:
                raise
            except Exception:  # the status is sent: the answer ends cut short, and the log says why
                traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            ctx.end_invocation(request_id, ctx.quiet())

    def _web_or(self, handle):
        if wsgi.WEB_HEADER in self.fields:
            self._web()
        else:
            handle()

    def do_PUT(self):
        self._web_or(lambda: self._reply(405, b"method not allowed"))

    do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_PUT

    def do_POST(self):
        if wsgi.WEB_HEADER in self.fields:
            self._web()
            return
        headers = self.fields
        request_id = headers.get("x-fc-request-id", "-")
        meta = self.runtime.function_meta(headers)
        body = self._read_body()
        if self.path == "/specialize":
            self._specialize(body)
        elif not self.runtime.ready and self.path in ("/initialize", "/invoke"):
            self._reply_error(503, make_error(RuntimeFault(NOT_SPECIALIZED, "this cell runs no function yet")),
                              unhandled=True)
        elif self.path == "/initialize":
            error = self.runtime.initialize(request_id, meta)
            if error is None:
                self._reply(200, b"OK")
            else:
                self._reply_error(500, error, unhandled=True)
        elif self.path == "/invoke":
            self._invoke(request_id, meta, body, int(headers.get("x-fc-attempt") or 1))
        else:
            self._reply(404, b"not found")

    def _specialize(self, body):
        if len(body) > MAX_SPECIALIZE_BYTES:
            refused = (413, "specialize request too large")
        else:
            refused = self.runtime.specialize(body)
        if refused is None:
            self._reply(200, b"OK")
        else:
            status, message = refused
            self._reply(status, json.dumps({"errorMessage": message, "errorType": NOT_SPECIALIZED}).encode(),
                        "application/json")

    def _invoke(self, request_id, meta, event, attempt):
        error = self.runtime.initialize(request_id, meta)
        if error is not None:
            self._reply_error(200, error, unhandled=True)
            return
        ctx.begin_invocation(request_id)
        exit_code = None
        reply: tuple[int, dict, bool] | None
        try:
            body, content_type = self.runtime.invoke(request_id, meta, event, attempt)
        except RuntimeFault as exc:
            reply = (200, make_error(exc), True)
        except Exception as exc:
            reply = (200, make_error(exc), False)
        except SystemExit as exc:  # the handler asked the process to end: answer, then end it
            exit_code = exc.code if isinstance(exc.code, int) else 1
            error = make_error(exc, RUNTIME_EXIT) | {"errorMessage": f"Function exited with code {exit_code}"}
            reply = (200, error, True)
        else:
            reply = None
        sys.stdout.flush()
        sys.stderr.flush()
        quiet = ctx.quiet()
        try:
            # The answer first, the End marker after: the caller does not wait for the log write.
            usage = [("x-fc-max-memory-used", str(max_memory_mb()))]
            if quiet:
                usage.append(("x-faas-quiet", "1"))
            if reply is None:
                self._reply(200, body, content_type, usage)
            else:
                self._reply_error(*reply, extra=usage)
        finally:
            ctx.end_invocation(request_id, quiet)
        if exit_code is not None:
            os._exit(exit_code)

    def do_GET(self):
        if wsgi.WEB_HEADER in self.fields:
            self._web()
        elif self.path in ("/pre-stop", "/pre-freeze", "/"):
            self._reply(200, b"OK")
        elif self.path == "/specialize":  # whether this runtime runs a function (a cell may not, yet)
            self._reply(200, json.dumps({"specialized": self.runtime.ready}).encode(), "application/json")
        else:
            self._reply(404, b"not found")


class _Quiet(socketserver.BaseServer):
    def handle_error(self, request, client_address):
        """A client that goes away mid-request is no error of the function's: its log stays clean."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Server(_Quiet, ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class UnixServer(_Quiet, socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self):
        path = self.server_address
        assert isinstance(path, str), "serve() binds it to a path"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        super().server_bind()


def serve(env=None):
    env = dict(os.environ if env is None else env)
    ctx.install_streams()
    ctx.configure_root_logger()
    Handler.runtime = Runtime(env)
    port = int(env.get("FC_SERVER_PORT", "9000"))
    path = env.get("FC_SERVER_SOCKET")
    if path:  # bound before the TCP port, so that it is there once the platform sees the port listen
        local = UnixServer(path, Handler)
        threading.Thread(target=local.serve_forever, kwargs={"poll_interval": 3600}, daemon=True).start()
    server = Server(("0.0.0.0", port), Handler)
    try:
        server.serve_forever(poll_interval=3600)
    finally:
        server.server_close()
