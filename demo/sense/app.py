"""The simulated repository's HTTP side: TLS listeners, authentication, the request log, latency
and faults, in front of `repository.Repository`.

Stack: the standard library's threading HTTP server (HTTP/1.1 keep-alive, a thread per
connection). The TLS handshake runs in the connection's thread, not in accept(), so a slow or
failing client never holds up the others.

Listeners:
- the repository port (Qlik's 4242): TLS requiring a client certificate issued by root.pem;
  `/qrs/...` with the xrfkey rule and `X-Qlik-User`;
- optionally a virtual proxy port (Qlik's 443): `/PREFIX/qrs/...`, header authentication (the
  configured header names the user; no client certificate), TLS or plain HTTP;
- optionally an admin port (plain HTTP, loopback): `GET|PUT|DELETE /faults`, `GET /runs`.
"""
from __future__ import annotations

import itertools
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from demo.sense import entities
from demo.sense.certs import CertPaths, ensure_certs, server_context
from demo.sense.faults import Faults
from demo.sense.repository import NO_ENDPOINT, Repository, Request, Response
from demo.sense.runs import MAX_CONCURRENT
from demo.sense.seed import load_seed

if TYPE_CHECKING:  # the emulator is imported only when scripts are run (it takes a while)
    from demo.sense.scripts import ScriptSettings

XSRF_FAILED = "XSRF prevention check failed. Possible XSRF discovered."
UNKNOWN_USER = ("Unknown users not allowed for repository calls, missing or malformed http header: "
                "X-Qlik-User")
MISSING_VALUE = "Missing parameter value(s)"
NO_PROXY = "No virtual proxy with this prefix"
_XRFKEY = re.compile(r"[0-9A-Za-z]{16}")


@dataclass
class Options:
    port: int
    certs: Path
    seed: Path | None = None
    latency_ms: int = 0
    log: Path | None = None
    host: str = "127.0.0.1"
    require_user: bool = True
    sync_reply: str = "value"  # "value": {"value": guid}; "bare": "guid"
    max_concurrent: int = MAX_CONCURRENT
    proxy_port: int | None = None
    proxy_prefix: str = "hdr"
    proxy_header: str = "hdr-usr"
    proxy_tls: bool = True
    admin_port: int | None = None
    faults: Faults = field(default_factory=Faults)
    idle_timeout: float = 300  # seconds an idle keep-alive connection stays open
    scripts: ScriptSettings | None = None  # run seeded scripts in the emulator (scripts.py)


class RequestLog:
    """Every request as one JSON line, written and flushed before it is answered."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = Path(path).open("a", encoding="utf-8") if path else None
        self._lock = threading.Lock()

    def write(self, entry: dict) -> None:
        if self._file is None:
            return
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()


def parse_user(header: str | None) -> tuple[str, str] | None:
    """`UserDirectory=<dir>; UserId=<id>` (order, spaces and key case free, facts §1)."""
    if not header:
        return None
    parts = {}
    for item in header.split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep:
                return None
            parts[key.strip().lower()] = unquote(value.strip())
    directory, user = parts.get("userdirectory"), parts.get("userid")
    return (directory, user) if directory and user else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], simulator: "Simulator", kind: str,
                 context: ssl.SSLContext | None) -> None:
        self.simulator, self.kind, self.context = simulator, kind, context
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        if self.context is not None:
            request.settimeout(10)
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # handshake refused (no or untrusted client certificate)
            request.settimeout(None)
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)
            _close(request)

    def close_open_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.simulator.options.idle_timeout  # then the connection closes
        super().setup()
        self.connection_id = next(self.server.simulator.connection_ids)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the JSON log is the record
        pass

    def do_GET(self) -> None:
        self.server.simulator.serve(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def answer(self, response: Response) -> None:
        data, content_type = response.encode()
        self.send_response(response.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if response.status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _script_runner(settings: ScriptSettings | None, tasks: list) -> Callable | None:
    if settings is None:
        return None
    from demo.sense.scripts import check_scripts, script_runner  # noqa: PLC0415 (see above)

    check_scripts(tasks)
    return script_runner(settings)


class Simulator:
    """The running simulated repository: listeners, state, log and faults."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.certs: CertPaths = ensure_certs(options.certs)
        tasks = load_seed(options.seed)
        self.repository = Repository(tasks, options.sync_reply, max_concurrent=options.max_concurrent,
                                     run_script=_script_runner(options.scripts, tasks))
        self.faults = options.faults
        self.log = RequestLog(options.log)
        self.connection_ids = itertools.count(1)
        self._servers: dict[str, _Server] = {}
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "Simulator":
        opts = self.options
        if not self.faults.refuse:
            self._listen_repository()
        if opts.proxy_port is not None:
            context = server_context(self.certs, False) if opts.proxy_tls else None
            self._listen("proxy", opts.proxy_port, context)
        if opts.admin_port is not None:
            self._listen("admin", opts.admin_port, None)
        return self

    def _listen(self, kind: str, port: int, context: ssl.SSLContext | None) -> None:
        server = _Server((self.options.host, port), self, kind, context)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"sense-{kind}", daemon=True)
        thread.start()
        self._servers[kind] = server

    def _listen_repository(self) -> None:
        self._listen("repository", self.options.port, server_context(self.certs, True))

    def _unlisten(self, kind: str) -> None:
        server = self._servers.pop(kind, None)
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_open_connections()

    def stop(self) -> None:
        for kind in list(self._servers):
            self._unlisten(kind)
        self.log.close()

    def apply_faults(self, data: dict) -> None:
        """Replace the faults; start or stop listening on the repository port to match `refuse`."""
        with self._lock:
            self.faults.replace(data)
            listening = "repository" in self._servers
            if self.faults.refuse and listening:
                self._unlisten("repository")
            elif not self.faults.refuse and not listening:
                self._listen_repository()

    # -- serving -------------------------------------------------------------------------
    def serve(self, handler: _Handler) -> None:
        body = handler.read_body()
        if handler.server.kind == "admin":
            handler.answer(self.admin(handler.command, urlsplit(handler.path).path, body))
            return
        target = urlsplit(handler.path)
        entry = {"time": entities.iso(time.time()), "listener": handler.server.kind,
                 "connection": handler.connection_id, "method": handler.command,
                 "path": unquote(target.path), "query": _query_dict(target.query),
                 "target": handler.path, "headers": dict(handler.headers.items()),
                 "body": _body_value(body)}
        self.log.write(entry)
        if self.options.latency_ms:
            time.sleep(self.options.latency_ms / 1000)
        rule = self.faults.pick(handler.command, entry["path"])
        if rule is not None and rule.action == "drop":
            handler.drop()
            return
        if rule is not None and rule.action == "slow":
            time.sleep(rule.ms / 1000)
        if rule is not None and rule.action == "status":
            handler.answer(Response(rule.status, f"Simulated fault: HTTP {rule.status}"))
            return
        handler.answer(self.qrs(handler, target.path, target.query, entry["body"]))

    def qrs(self, handler: _Handler, path: str, query: str, body: Any) -> Response:
        path = unquote(path)
        if handler.server.kind == "proxy":
            path, refusal = self._through_proxy(handler, path)
            if refusal:
                return refusal
        if not path.lower().startswith("/qrs/"):
            return Response(404, NO_ENDPOINT)
        params = {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}
        key = params.get("xrfkey")
        if not key or not _XRFKEY.fullmatch(key) or handler.headers.get("X-Qlik-Xrfkey") != key:
            return Response(403, XSRF_FAILED)
        if any("=" not in part for part in query.split("&") if part):
            return Response(400, MISSING_VALUE)
        if (handler.server.kind == "repository" and self.options.require_user
                and parse_user(handler.headers.get("X-Qlik-User")) is None):
            return Response(403, UNKNOWN_USER)
        return self.repository.handle(Request(handler.command, path[len("/qrs/"):], params, body))

    def _through_proxy(self, handler: _Handler, path: str) -> tuple[str, Response | None]:
        """Header authentication on the virtual proxy: the path below the prefix, or a refusal.
        (A missing header's answer is not recorded for Sense: 401 is the simulator's choice.)"""
        prefix = f"/{self.options.proxy_prefix.strip('/')}"
        if not path.lower().startswith(prefix.lower() + "/"):
            return path, Response(404, NO_PROXY)
        name = self.options.proxy_header
        if not (handler.headers.get(name) or "").strip():
            return path, Response(401, f"Header authentication failed: header {name} missing")
        return path[len(prefix):], None

    def admin(self, method: str, path: str, body: bytes) -> Response:
        if path == "/faults" and method == "GET":
            return Response(200, self.faults.describe())
        if path == "/faults" and method in ("PUT", "POST", "DELETE"):
            try:
                data = json.loads(body or b"{}") if method != "DELETE" else {}
                self.apply_faults(data if isinstance(data, dict) else {"rules": data})
            except (ValueError, TypeError, re.error) as e:
                return Response(400, f"bad faults: {e}")
            return Response(200, self.faults.describe())
        if path == "/runs" and method == "GET":
            now = time.time()
            return Response(200, [{"taskId": r.task.id, "taskName": r.task.name,
                                   "sessionId": r.session_id,
                                   "resultIds": [a.result_id for a in r.visible(now)],
                                   "status": r.status(now),
                                   "triggeredAt": entities.iso(r.triggered_at),
                                   "message": r.current(now).message if r.finished(now) else "",
                                   "scriptLog": [{"time": entities.iso(at), "line": line}
                                                 for a in r.visible(now) for at, line in a.log]}
                                  for r in self.repository.runs.all()])
        return Response(404, "admin: GET|PUT|DELETE /faults, GET /runs")


def _query_dict(query: str) -> dict[str, Any]:
    """Query parameters; a repeated name maps to the list of its values."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return {name: v[0] if len(v) == 1 else v for name, v in values.items()}


def _body_value(body: bytes) -> Any:
    """The body for the log: parsed JSON where it is JSON, else text."""
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_forever(options: Options, announce: Callable[[str], None] = print) -> None:
    simulator = Simulator(options).start()
    announce(f"simulated Qlik Sense repository on https://{options.host}:{options.port}/qrs "
             f"(certificates in {options.certs})")
    try:
        threading.Event().wait()
    finally:
        simulator.stop()
