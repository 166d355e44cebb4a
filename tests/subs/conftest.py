"""The harness of the load-script library: load scripts that include the committed
qvs/butler_subs.qvs, run by the emulator (the REST connector sending real HTTP) against a live
Valet, which talks to the simulated repository over real TLS."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from emulator.errors import ScriptError
from emulator.rest_connector import Connection
from emulator.runner import Runner
from generator.render import COMMITTED_FILE
from tasks.start_support import clean_sense, open_valet, qlog, sense  # noqa: F401

@pytest.fixture(scope="package")
def store_url() -> None:
    """The library's Valet keeps its store in SQLite, the default: the stores themselves are
    compared by the key-value and start-task suites."""
    return None


# Variables the emulator keeps for every script (Qlik's error variables).
SYSTEM_VARIABLES = {"ScriptError", "ScriptErrorCount", "ScriptErrorList"}


@dataclass
class Run:
    runner: Runner
    error: ScriptError | None
    preset: set[str]

    def succeeded(self) -> "Run":
        assert self.error is None, str(self.error)
        return self

    @property
    def requests(self) -> list:
        return self.runner.requests

    def var(self, name: str) -> str | None:
        return self.runner.variable_text(name)

    def left_variables(self) -> set[str]:
        """Variables holding a value that neither the caller nor Qlik set (NULL = removed)."""
        return {name for name, value in self.runner.variables.items()
                if value is not None and name not in SYSTEM_VARIABLES | self.preset}

    def tables(self) -> set[str]:
        return set(self.runner.model.tables)


@pytest.fixture
def run_script(open_valet, tmp_path):  # noqa: F811
    """run_script(body, **variables) -> Run: `body` after the settings and the include."""
    host, port = open_valet.url.rsplit(":", 1)
    connections = {"Butler_GET": Connection("Butler_GET", open_valet.url + "/v4/butlerping", "GET"),
                   "Butler_POST": Connection("Butler_POST", open_valet.url + "/v4/butlerping",
                                             "POST")}

    def run(body: str, library: Path = COMMITTED_FILE, **variables: str) -> Run:
        script = tmp_path / "app.qvs"
        script.write_text(f"Let vButlerHost = '{host}';\nLet vButlerPort = '{port}';\n"
                          f"$(Must_Include={library});\n{body}", encoding="utf-8")
        runner = Runner(connections, variables, out=io.StringIO())
        error = None
        try:
            runner.run_file(script)
        except ScriptError as e:
            error = e
        return Run(runner, error, {"vButlerHost", "vButlerPort", *variables})
    return run


@pytest.fixture
def kv(open_valet):  # noqa: F811
    """Read Valet's store directly over HTTP: kv(namespace, key) -> value or None."""
    def read(namespace: str, key: str) -> str | None:
        r = requests.get(f"{open_valet.url}/v4/keyvalues/{requests.utils.quote(namespace, safe='')}",
                         params={"key": key}, timeout=10)
        return r.json()["value"] if r.status_code == 200 else None
    return read
