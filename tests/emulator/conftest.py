"""Fixtures for the emulator's language tests: run a script text, get the Runner back."""
from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulator.runner import Runner


@pytest.fixture
def run(tmp_path: Path):
    """run(script, variables=None, files=None, connections=None) -> Runner.

    The script is written to tmp_path/main.qvs (so includes resolve against tmp_path); files
    maps extra file names to their text; options go to Runner (now, system, seed). Trace output is collected, Sleep does not sleep."""
    def run_script(script: str, variables: dict | None = None, files: dict | None = None,
                   connections: dict | None = None, **options) -> Runner:
        for name, content in (files or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(content, encoding="utf-8")
        main = tmp_path / "main.qvs"
        main.write_text(script, encoding="utf-8")
        runner = Runner(connections, variables, out=io.StringIO(), sleep=lambda s: None, **options)
        runner.run_file(main)
        return runner
    return run_script



class _Recorder(BaseHTTPRequestHandler):
    """Records every request; answers with the server's next queued (status, body) or 200 {}."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else None
        self.server.seen.append({"method": self.command, "path": self.path,
                                 "headers": dict(self.headers), "body": body})
        status, answer = self.server.answers.pop(0) if self.server.answers else (200, "{}")
        data = answer.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server():
    """A real HTTP server on a free loopback port: .url, .seen (requests), .answers (queue)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen, server.answers = [], []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
