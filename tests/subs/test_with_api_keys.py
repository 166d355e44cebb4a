"""The load-script library against a Valet with API keys on (issue 12), run as a user runs it:
`python -m emulator SCRIPT --connections FILE --var …` with the REST connector sending real
HTTP. Without a key every call is refused (401) and the reload fails; the library generated
with `--api-key-variable` works once the variable holds a key; a key of a narrower scope reads
but cannot write (403); Butler's own library works when the data connection carries the key as
a header (the connections file's `headers`, as a Qlik REST connection's query headers); the
audit names the key that started the task."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from demo.processes import Valet
from generator.render import COMMITTED_FILE
from tasks.start_support import OPS, qrs_config

KEYS = {"loader": "loader-3b5d7f9a1c3e5a7c9e1f", "reader": "reader-0a2c4e6a8c0e2a4c6e8a",
        "auditor": "auditor-6e8a0c2e4a6c8e0a2c4e"}
SCOPES = {"loader": ["kv:read", "kv:write", "task:start"], "reader": ["kv:read"],
          "auditor": ["admin"]}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, sense) -> Valet:
    root = tmp_path_factory.mktemp("keyed")
    server = Valet(root, qrs_config(sense), {"apiKeys": [
        {"name": name, "key": key, "scopes": SCOPES[name]} for name, key in KEYS.items()]},
        log=(root / "valet.log").open("w"))
    server.log_path = root / "valet.log"
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def keyed_library(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lib") / "butler_subs_keyed.qvs"
    done = subprocess.run([sys.executable, "-m", "generator", "-o", str(out),
                           "--api-key-variable", "vValetApiKey"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def emulate(tmp_path: Path, valet: Valet, body: str, library: Path = COMMITTED_FILE,
            connection_headers: dict | None = None, **variables: str) -> tuple[int, dict]:
    """Run `body` after the include through the emulator's command line; (exit code, dump)."""
    host, port = valet.url.rsplit(":", 1)
    connections = {name: {"url": valet.url + "/v4/butlerping", "method": method,
                          "headers": connection_headers or {}}
                   for name, method in (("Butler_GET", "GET"), ("Butler_POST", "POST"))}
    (tmp_path / "connections.yaml").write_text(yaml.safe_dump(connections))
    (tmp_path / "app.qvs").write_text(f"Let vButlerHost = '{host}';\nLet vButlerPort = '{port}';\n"
                                      f"$(Must_Include={library});\n{body}", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "emulator", str(tmp_path / "app.qvs"),
                           "--connections", str(tmp_path / "connections.yaml"),
                           "--dump", str(tmp_path / "dump.json"),
                           *(f"--var={n}={v}" for n, v in variables.items())],
                          capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads((tmp_path / "dump.json").read_text(encoding="utf-8"))


def failure(code: int, dump: dict) -> str:
    """The library's own report of a failed call (it fails the reload after tracing why)."""
    assert code == 1 and dump["error"]["message"] == "Unsupported statement: ValetSubsError"
    return next(t for t in dump["trace"] if " failed: " in t)


def stored(valet: Valet, ns: str, key: str) -> str | None:
    r = requests.get(f"{valet.url}/v4/keyvalues/{ns}", params={"key": key},
                     headers={"X-API-Key": KEYS["reader"]}, timeout=10)
    return r.json()["value"] if r.status_code == 200 else None


CALLS = """Call AddKeyValue('{ns}', 'k', 'v')
Call GetKeyValue('{ns}', 'k', 'vOut')
Call ExistsKeyValue('{ns}', 'k', 'vExists')
Call GetAllKeysInNamespace('Keys', '{ns}')
Call StartTask('{task}')
"""


def test_without_a_key_the_library_is_refused_and_the_reload_fails(tmp_path, keyed, ns):
    code, dump = emulate(tmp_path, keyed, f"Call AddKeyValue('{ns}', 'k', 'v')")
    assert "AddKeyValue failed" in failure(code, dump) and "HTTP 401" in failure(code, dump)
    assert stored(keyed, ns, "k") is None


def test_the_generated_library_sends_the_key_from_its_variable(tmp_path, keyed, keyed_library, ns):
    code, dump = emulate(tmp_path, keyed, CALLS.format(ns=ns, task=OPS[0]), keyed_library,
                         vValetApiKey=KEYS["loader"])
    assert code == 0, dump.get("error")
    assert dump["variables"]["vOut"] == "v" and dump["variables"]["vExists"] in ("true", "True", "-1")
    assert stored(keyed, ns, "k") == "v"
    assert all(r["headers"].get("X-API-Key") == KEYS["loader"] for r in dump["requests"])
    audit = requests.get(f"{keyed.url}/v4/audit/taskstarts", params={"task": OPS[0], "limit": 1},
                         headers={"X-API-Key": KEYS["auditor"]}, timeout=10).json()["items"][0]
    assert (audit["keyName"], audit["clientAddress"]) == ("loader", "127.0.0.1")


def test_a_read_only_key_reads_but_cannot_write(tmp_path, keyed, keyed_library, ns):
    requests.post(f"{keyed.url}/v4/keyvalues/{ns}", json={"key": "k", "value": "old"},
                  headers={"X-API-Key": KEYS["loader"]}, timeout=10)
    code, dump = emulate(tmp_path, keyed, f"Call GetKeyValue('{ns}', 'k', 'vOut')", keyed_library,
                         vValetApiKey=KEYS["reader"])
    assert code == 0 and dump["variables"]["vOut"] == "old"
    code, dump = emulate(tmp_path, keyed, f"Call AddKeyValue('{ns}', 'k', 'new')", keyed_library,
                         vValetApiKey=KEYS["reader"])
    assert "HTTP 403" in failure(code, dump) and "kv:write" in failure(code, dump)
    assert stored(keyed, ns, "k") == "old"


def test_butlers_library_works_when_the_connection_carries_the_key(tmp_path, keyed, ns):
    code, dump = emulate(tmp_path, keyed, CALLS.format(ns=ns, task=OPS[0]),
                         connection_headers={"X-API-Key": KEYS["loader"]})
    assert code == 0, dump.get("error")
    assert stored(keyed, ns, "k") == "v"


def test_no_key_reaches_the_log(keyed):
    log = keyed.log_path.read_text()
    assert "key=loader" in log
    assert not any(key in log for key in KEYS.values())
