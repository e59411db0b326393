"""HTTP functions as WSGI applications (PEP 3333), as FC 2.0 calls them: `handler(environ, start_response)`.

The platform proxies an HTTP trigger's request to the runtime as it came (its path after the function's, its
query, its headers and its body, streamed), marked with WEB_HEADER; the runtime builds the environ, calls the
application and streams the iterable it returns back as the response's body (chunked). A request that reached
the function as an HTTP event (an async call through the trigger) is answered in the HTTP result shape instead.
"""

import base64
import io
import sys
from urllib.parse import unquote

WEB_HEADER = "x-fc-http-function"
"""Set by the platform (never passed on from a client) on a request it proxies to a WSGI function."""

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "content-length"})
"""Headers an application may not set (PEP 3333): the runtime frames the response itself."""


class Body(io.RawIOBase):
    """`wsgi.input`: at most `length` bytes of the request's stream; reading past them gives b""."""

    def __init__(self, stream, length):
        self.stream, self.left = stream, length

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            return 0
        data = self.stream.read(min(len(buffer), self.left))
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


class ChunkedBody(io.RawIOBase):
    """`wsgi.input` of a body sent with Transfer-Encoding: chunked (as the platform streams one), decoded, at most
    `limit` bytes (ValueError past them, or on a malformed chunk)."""

    def __init__(self, stream, limit):
        self.stream, self.limit, self.chunk_left, self.done = stream, limit, 0, False

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.done:
            return 0
        if self.chunk_left == 0:
            line = self.stream.readline(1026)
            size = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not size or len(size) > 16 or \
                    any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise ValueError("a malformed chunk in the request body")
            self.chunk_left = int(size, 16)
            if self.chunk_left == 0:
                while self.stream.readline(1026) not in (b"\r\n", b"\n", b""):  # trailers, if any
                    pass
                self.done = True
                return 0
            self.limit -= self.chunk_left
            if self.limit < 0:
                raise ValueError("the request body is larger than the runtime takes")
        data = self.stream.read(min(len(buffer), self.chunk_left))
        if not data:
            raise ValueError("the request body ended inside a chunk")
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self.stream.readline(3)  # the CRLF after the chunk's data
        buffer[:len(data)] = data
        return len(data)


def environ_of(method, target, headers, body, context, server=("localhost", "9000"), remote=""):
    """The environ of a request: `target` the path (as sent, percent-encoded) and query; `headers` a dict with
    lower-case names; `body` a readable file of the body (its length in content-length)."""
    path, _, query = target.partition("?")
    length = headers.get("content-length", "")
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, encoding="latin-1"), "QUERY_STRING": query,
        "SERVER_NAME": server[0], "SERVER_PORT": str(server[1]), "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": headers.get("x-forwarded-for", remote).split(",")[0].strip() or remote,
        "wsgi.version": (1, 0), "wsgi.url_scheme": headers.get("x-forwarded-proto", "http"),
        "wsgi.input": io.BufferedReader(body) if isinstance(body, io.RawIOBase) else body,
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "fc.context": context, "fc.request_uri": target,
    }
    if headers.get("content-type"):
        environ["CONTENT_TYPE"] = headers["content-type"]
    if length:
        environ["CONTENT_LENGTH"] = length
    for name, value in headers.items():
        if name in ("content-type", "content-length") or name.startswith("x-fc-"):
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def environ_of_event(event, context):
    """The environ of an HTTP event (FC 3.0's, as the HTTP trigger makes it for an async call)."""
    http = event["requestContext"]["http"]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    query = "&".join(f"{k}={v}" for k, v in (event.get("queryParameters") or {}).items())
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    headers["content-length"] = str(len(body))
    target = event.get("rawPath", "/") + ("?" + query if query else "")
    return environ_of(http["method"], target, headers, io.BytesIO(body), context,
                      remote=http.get("sourceIp", ""))


class Call:
    """One call of an application: its status and headers once it has started the response, and its body."""

    def __init__(self, app, environ):
        self.status = None
        self.headers = []
        self.result = app(environ, self.start_response)

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None and self.status is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        code = status.split(" ", 1)[0]
        if not (len(code) == 3 and code.isdigit() and 100 <= int(code) <= 599):
            raise ValueError(f"the status {status!r} does not start with a code from 100 to 599")
        for name, value in headers:
            if not isinstance(name, str) or not isinstance(value, str) or "\n" in name + value or \
                    "\r" in name + value or ":" in name:
                raise ValueError(f"the header {name!r}: {value!r} is not a header")
        self.status = status
        self.headers = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]
        return self._write

    def _write(self, data):  # PEP 3333's legacy write(): kept for the body, in order
        self.written = getattr(self, "written", []) + [bytes(data)]

    def chunks(self):
        """The body's pieces, in order (the application's close() called at the end, as PEP 3333 asks)."""
        try:
            yield from getattr(self, "written", [])
            for chunk in self.result:
                if chunk:
                    yield bytes(chunk)
        finally:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()

    def first(self):
        """The chunks, after the first one has been made (so that the status is known before any is sent)."""
        chunks = self.chunks()
        head = next(chunks, None)
        if self.status is None:
            raise ValueError("the application returned without calling start_response")
        return ([head] if head is not None else []), chunks
