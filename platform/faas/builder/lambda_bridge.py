"""Lambda's Runtime API inside a Lambda container image, for the platform (copied into the image it runs; standard
library only, Python 3.8 and later: it runs on the image's own interpreter).

The platform runs a Lambda image (`customContainer.protocol: lambda`) with this script first: it starts the image's
own command (its ENTRYPOINT and CMD, Lambda's Runtime Interface Client) with AWS_LAMBDA_RUNTIME_API pointing at the
Runtime API it serves on the loopback interface, and speaks the platform's custom-container protocol on
FC_SERVER_PORT: each `POST /invoke` becomes the answer to the runtime's `GET .../invocation/next`, and the
runtime's `POST .../invocation/{id}/response` (or `/error`) becomes the answer to `/invoke`. An error of the
runtime's is answered as a function error (`x-fc-status: 404`, Lambda's error payload). The runtime's output is
tagged with the call it belongs to, as the platform's own runtime tags it (Output). If the runtime's process
ends, every waiting call is answered with an error and this process ends with it (the platform then replaces the
container).
"""

import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

RUNTIME_ADDRESS = ("127.0.0.1", 9001)
PREFIX = "/2018-06-01/runtime"
MAX_BODY = 32 * 1024 * 1024
ACCOUNT_ID = "000000000000"


class Call:
    """One invocation, from `/invoke` to the runtime's answer."""

    def __init__(self, request_id, event, deadline_ms):
        self.request_id, self.event, self.deadline_ms = request_id, event, deadline_ms
        self.done = threading.Event()
        self.body: bytes = b""
        self.error_type: "str | None" = None
        self.quiet = False


class State:
    def __init__(self):
        self.pending: "queue.Queue[Call | None]" = queue.Queue()  # calls the runtime has not asked for yet
        self.running: "dict[str, Call]" = {}  # request id -> call, handed to the runtime
        self.lock = threading.Lock()
        self.init_error: "tuple[str, bytes] | None" = None  # (error type, body) reported before its first call
        self.exited: "int | None" = None  # the runtime process's exit status, once it ended


STATE = State()


class Output:
    """The runtime's stdout and stderr, passed on as the platform's runtime writes its own: while a call runs, each
    line tagged with its request id, after an `FC Invoke Start` marker, and an `FC Invoke End` marker once its
    answer came, so that the platform files each line under its call. Pipes are read only under the lock: what
    the runtime wrote before it answered is read before the End marker (its write came before its answer)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current: "str | None" = None
        self.started = False
        self.partial: "dict[int, bytes]" = {}
        self.sinks: "dict[int, TextIO]" = {}

    def watch(self, pipe, sink):
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        self.sinks[fd], self.partial[fd] = sink, b""
        threading.Thread(target=self._pump, args=(fd,), daemon=True).start()

    def _pump(self, fd):
        while True:
            select.select([fd], [], [])
            with self.lock:
                if not self._read(fd):
                    return

    def _read(self, fd):
        """What is in the pipe now, passed on (False once it is closed)."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            self._emit(fd, self.partial.pop(fd, b""), whole=True)
            return False
        lines = (self.partial[fd] + data).split(b"\n")
        self.partial[fd] = lines.pop()
        for line in lines:
            self._emit(fd, line)
        return True

    def _emit(self, fd, line, whole=False):
        if not line and whole:
            return
        sink = self.sinks[fd]
        if self.current is not None:
            if not self.started:
                self.started = True
                sys.stdout.buffer.write(("FC Invoke Start RequestId: %s\n" % self.current).encode())
                sys.stdout.buffer.flush()
            line = self.current.encode() + b" " + line
        sink.buffer.write(line + b"\n")
        sink.buffer.flush()

    def begin(self, request_id):
        with self.lock:
            self._drain()
            self.current, self.started = request_id, False

    def end(self):
        """Close the running call's output; whether it wrote nothing (no marker was written then)."""
        with self.lock:
            self._drain()
            for fd in list(self.partial):
                if self.partial[fd]:
                    self._emit(fd, self.partial[fd])
                    self.partial[fd] = b""
            quiet = not self.started
            if self.started:
                sys.stdout.buffer.write(("FC Invoke End RequestId: %s\n" % self.current).encode())
                sys.stdout.buffer.flush()
            self.current, self.started = None, False
            return quiet

    def _drain(self):
        while True:
            ready, _, _ = select.select(list(self.partial), [], [], 0)
            if not ready:
                return
            for fd in ready:
                if not self._read(fd):
                    self.partial.pop(fd, None)


OUTPUT = Output()


def invoked_arn():
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("FC_FUNCTION_NAME", "function")
    region = os.environ.get("AWS_REGION", "us-east-1")
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    qualifier = "" if version == "$LATEST" else ":" + version
    return "arn:aws:lambda:%s:%s:function:%s%s" % (region, ACCOUNT_ID, name, qualifier)


def error_body(error_type, message):
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []}).encode()


def fail_all(error_type, message):
    """Answer every call waiting or running with an error (the runtime is gone)."""
    with STATE.lock:
        calls: "list[Call | None]" = list(STATE.running.values())
        STATE.running.clear()
    while True:
        try:
            calls.append(STATE.pending.get_nowait())
        except queue.Empty:
            break
    for call in calls:
        if call is not None:
            call.body, call.error_type = error_body(error_type, message), error_type
            call.done.set()


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # the function's log is the runtime's output alone
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, body=b"", content_type="application/json", headers=()):
        """The whole answer in one write: a head and a body in two would wait on the peer's delayed ACK."""
        lines = ["HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0]),
                 "Content-Type: " + content_type, "Content-Length: %d" % len(body)]
        lines += ["%s: %s" % (name, value) for name, value in headers]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


class RuntimeApi(Quiet):
    """Lambda's Runtime API, as the runtime interface client calls it."""

    def do_GET(self):
        if self.path != PREFIX + "/invocation/next":
            self.reply(404, error_body("InvalidRequest", "unknown path"))
            return
        call = STATE.pending.get()
        if call is None:  # the bridge is ending
            self.reply(500, error_body("Runtime.Exited", "the platform is stopping"))
            return
        with STATE.lock:
            STATE.running[call.request_id] = call
        OUTPUT.begin(call.request_id)
        self.reply(200, call.event, headers=(
            ("Lambda-Runtime-Aws-Request-Id", call.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(call.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", invoked_arn()),
            ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")))

    def do_POST(self):
        try:
            body = self.body()
        except ValueError:
            self.reply(413, error_body("RequestTooLarge", "the body is too large"))
            return
        if self.path == PREFIX + "/init/error":
            STATE.init_error = (self.headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.InitError", body)
            self.reply(202, b'{"status":"OK"}')
            return
        parts = self.path[len(PREFIX):].split("/") if self.path.startswith(PREFIX + "/invocation/") else []
        if len(parts) != 4 or parts[3] not in ("response", "error"):
            self.reply(404, error_body("InvalidRequest", "unknown path"))
            return
        with STATE.lock:
            call = STATE.running.pop(parts[2], None)
        if call is None:
            self.reply(400, error_body("InvalidRequestID", "no invocation has that id"))
            return
        call.body = body
        if parts[3] == "error":
            call.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
        call.quiet = OUTPUT.end()
        self.reply(202, b'{"status":"OK"}')
        call.done.set()


class Platform(Quiet):
    """The platform's custom-container protocol."""

    def do_GET(self):
        self.reply(200, b"OK", "text/plain")

    def do_POST(self):
        try:
            event = self.body()
        except ValueError:
            self.reply(413, error_body("RequestTooLarge", "the event is too large"))
            return
        if self.path == "/initialize":
            self.reply(200, b"OK", "text/plain")
            return
        if self.path != "/invoke":
            self.reply(404, b"not found", "text/plain")
            return
        request_id = self.headers.get("x-fc-request-id") or "unknown"
        timeout_s = int(self.headers.get("x-fc-function-timeout") or os.environ.get("FC_FUNCTION_TIMEOUT") or 60)
        call = Call(request_id, event or b"{}", int((time.time() + timeout_s) * 1000))
        if STATE.exited is not None:
            call.body, call.error_type = error_body("Runtime.ExitError", "the runtime exited with status %s"
                                                    % STATE.exited), "Runtime.ExitError"
        else:
            STATE.pending.put(call)
            call.done.wait()
        quiet = (("x-faas-quiet", "1"),) if call.quiet else ()
        if call.error_type is None:
            self.reply(200, call.body, headers=quiet)
        else:
            self.reply(200, call.body, headers=(("x-fc-status", "404"),
                                                ("x-fc-error-type", "UnhandledInvocationError"), *quiet))


def watch(process):
    status = process.wait()
    STATE.exited = status
    if OUTPUT.current is not None:
        OUTPUT.end()
    init = STATE.init_error
    if init is not None:
        fail_all(init[0], json.loads(init[1].decode() or "{}").get("errorMessage", "the runtime failed to start")
                 if init[1] else "the runtime failed to start")
    else:
        fail_all("Runtime.ExitError", "the runtime exited with status %s" % status)
    time.sleep(0.2)  # the answers go out first
    os._exit(status if status > 0 else 1)


def main(argv):
    if not argv:
        sys.stderr.write("lambda bridge: the image has no command to run\n")
        return 2
    api = ThreadingHTTPServer(RUNTIME_ADDRESS, RuntimeApi)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="%s:%d" % RUNTIME_ADDRESS)
    env.setdefault("PYTHONUNBUFFERED", "1")  # (each line reaches the log as it is written, as on Lambda)
    try:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        sys.stderr.write("lambda bridge: cannot start %s: %s\n" % (argv[0], exc))
        return 127
    OUTPUT.watch(process.stdout, sys.stdout)
    OUTPUT.watch(process.stderr, sys.stderr)
    threading.Thread(target=watch, args=(process,), daemon=True).start()

    def stop(signum, frame):  # (as the container's first process, nothing ends it but what it handles)
        process.terminate()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_SERVER_PORT", "9000"))), Platform)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
