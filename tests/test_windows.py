"""Windows is where Sense runs. CI runs on Linux, so this starts the real server in a subprocess
with the POSIX-only APIs taken away before anything imports them (a sitecustomize deletes them),
as a Windows Python lacks them, and checks a key-value round trip, a task start against the
simulated repository and a clean stop. Then a source check: no new POSIX-only call in server/
outside code guarded for Linux."""
from __future__ import annotations

import ast
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
import yaml

from demo.processes import free_port, wait_until_ready
from demo.sense.process import SenseProcess

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY_OS = ("register_at_fork", "fork", "forkpty", "setsid", "killpg", "getuid", "geteuid",
                 "getpgid", "setpgid", "wait3", "wait4", "sync")
POSIX_ONLY_SIGNALS = ("SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGQUIT")
POSIX_ONLY_MODULES = ("fcntl", "resource", "grp", "pwd", "termios", "gunicorn")

WINDOWS_LIKE = textwrap.dedent(f"""
    import os, signal, sys
    for name in {POSIX_ONLY_OS!r}:
        if hasattr(os, name):
            delattr(os, name)
    for name in {POSIX_ONLY_SIGNALS!r}:
        if hasattr(signal, name):
            delattr(signal, name)
    for name in {POSIX_ONLY_MODULES!r}:
        sys.modules[name] = None  # import fails, as on Windows
""")


@pytest.fixture(scope="module")
def sense(tmp_path_factory):
    with SenseProcess(tmp_path_factory.mktemp("sense")) as s:
        yield s


def test_the_server_runs_without_posix_only_apis(tmp_path, sense):
    (tmp_path / "sitecustomize.py").write_text(WINDOWS_LIKE)
    port = free_port()
    cfg = tmp_path / "valet.yaml"
    cfg.write_text(yaml.safe_dump({"Butler": {
        "restServerConfig": {"enable": True, "serverHost": "127.0.0.1", "serverPort": port},
        "restServerEndpointsEnable": {"keyValueStore": True, "senseStartTask": True},
        "fileLogging": True, "logDirectory": "log",
        "configQRS": {"host": "127.0.0.1", "port": sense.port, "rejectUnauthorized": True,
                      "headers": {"static": [{"name": "X-Qlik-User",
                                              "value": "UserDirectory=Internal;UserId=sa_repository"}]}},
        "cert": {"clientCert": str(sense.certs.client), "clientCertKey": str(sense.certs.client_key),
                 "clientCertCA": str(sense.certs.root)}}}))
    out = tmp_path / "out.log"
    proc = subprocess.Popen([sys.executable, "-m", "server", "--config", str(cfg)], cwd=ROOT,
                            stdout=out.open("w"), stderr=subprocess.STDOUT,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(url + "/health", proc=proc), out.read_text()
        check = subprocess.run([sys.executable, "-c", "import fcntl"], capture_output=True,
                               env={"PYTHONPATH": str(tmp_path)})
        assert check.returncode != 0  # the simulation holds
        assert requests.post(f"{url}/v4/keyvalues/win", json={"key": "k", "value": "v"},
                             timeout=5).status_code == 201
        assert requests.get(f"{url}/v4/keyvalues/win", params={"key": "k"}, timeout=5).json()["value"] == "v"
        r = requests.put(f"{url}/v4/reloadtask/e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e/start", json=[],
                         timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["tasksId"]["started"] == [{"taskId": "e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e",
                                                   "taskName": "Reload task of App1"}]
        proc.send_signal(signal.SIGINT)  # what a service wrapper's Ctrl+C stop delivers
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text()
    assert "Valet stopped" in text and "Traceback" not in text and "Logging error" not in text
    assert "POST /v4/keyvalues/win 201" in (cfg.parent / "log" / "valet.log").read_text()


# -- the source check ---------------------------------------------------------------------------
def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST], lines: list[str]) -> bool:
    """Inside `try: … except ImportError`, an `if` on sys.platform or the imported module,
    or a function whose `def` line is marked `# linux-only`."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Try) and node in parent.body and any(
                "ImportError" in ast.unparse(h.type or ast.Name("")) for h in parent.handlers):
            return True
        if isinstance(parent, ast.If) and node in parent.body and (
                "sys.platform" in ast.unparse(parent.test)):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.ClassDef)) and \
                "# linux-only" in lines[parent.lineno - 1]:
            return True
        node = parent
    return False


def posix_only_uses(source: str) -> list[str]:
    """`line: what` for every POSIX-only API used outside guarded code."""
    tree = ast.parse(source)
    lines = source.splitlines()
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id == "os" and node.attr in POSIX_ONLY_OS) or (
                    node.value.id == "signal" and node.attr in POSIX_ONLY_SIGNALS):
                what = f"{node.value.id}.{node.attr}"
        elif isinstance(node, ast.Import):
            what = next((a.name for a in node.names if a.name.split(".")[0] in POSIX_ONLY_MODULES), None)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in POSIX_ONLY_MODULES:
            what = node.module
        if what and not _guarded(node, parents, lines):
            found.append(f"{node.lineno}: {what}")
    return found


def test_server_uses_no_posix_only_api_outside_linux_guarded_code():
    found = {str(p.relative_to(ROOT)): uses for p in sorted((ROOT / "server").rglob("*.py"))
             if (uses := posix_only_uses(p.read_text(encoding="utf-8")))}
    assert found == {}, ("POSIX-only calls outside Linux-guarded code; guard them (try/except "
                         "ImportError, `if sys.platform…`, or a `def` marked `# linux-only`)")


@pytest.mark.parametrize("source, flagged", [
    ("import os\nos.register_at_fork(before=print)\n", ["2: os.register_at_fork"]),
    ("import fcntl\n", ["1: fcntl"]),
    ("from gunicorn.app.base import BaseApplication\n", ["1: gunicorn.app.base"]),
    ("import signal\nsignal.signal(signal.SIGKILL, print)\n", ["2: signal.SIGKILL"]),
    ("try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n", []),
    ("import os, sys\nif sys.platform.startswith('linux'):\n    os.fork()\n", []),
    ("def serve():  # linux-only\n    import gunicorn\n", []),
    ("import signal\nsignal.signal(signal.SIGTERM, print)\n", []),
])
def test_the_source_check_finds_what_it_should(source, flagged):
    assert posix_only_uses(source) == flagged
