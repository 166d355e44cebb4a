"""python -m generator: the committed file is its output; the options change the names the subs
use; the API-key variable is sent as X-API-Key on every request; bad options are refused."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from generator.render import COMMITTED_FILE, Options, render
from tasks.start_support import OPS


def generate(tmp_path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", "-o", str(tmp_path / "out.qvs"), *options],
                          capture_output=True, text=True, timeout=60)


def test_the_committed_file_is_the_generators_output() -> None:
    assert COMMITTED_FILE.read_text(encoding="utf-8") == render(Options()), \
        "qvs/butler_subs.qvs is stale: run `python -m generator`"


def test_the_command_writes_the_committed_file_with_no_options(tmp_path) -> None:
    r = generate(tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.qvs").read_bytes() == COMMITTED_FILE.read_bytes()


def test_every_butler_signature_is_in_the_file() -> None:
    """Butler's names and parameter order (SPEC §6), plus the read with a default."""
    text = COMMITTED_FILE.read_text(encoding="utf-8")
    for signature in [
            "sub StartTask(vTaskId, vTaskIdTable, vTagTable, vCustomPropertyTable, vKeyValueStoreTable)",
            "sub StartTask_KeyValue(vTaskId, vNamespace, vKey, vValue, vTTL)",
            "sub AddKeyValue(vNamespace, vKey, vValue, vTimeToLive)",
            "sub GetKeyValue(vNamespace, vKey, vResultVarName)",
            "sub GetKeyValueOrDefault(vNamespace, vKey, vDefault, vResultVarName)",
            "sub ExistsKeyValue(vNamespace, vKey, vResultVarName)",
            "sub DeleteKeyValue(vNamespace, vKey)",
            "sub DeleteKeyValueNamespace(vNamespace)",
            "sub GetKeyValueNamespaces(vResultTableName)",
            "sub GetAllKeysInNamespace(vResultTable, vNamespace)"]:
        assert signature in text
        assert f"//   Call {signature.split('(')[0][4:]}(" in text  # a usage example in the header
    assert "X-API-Key" not in text


def test_options_rename_connections_and_variables(tmp_path) -> None:
    r = generate(tmp_path, "--connection-get", "Valet GET", "--connection-post", "Valet POST",
                 "--host-variable", "vValetHost", "--port-variable", "vValetPort")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "out.qvs").read_text(encoding="utf-8")
    assert "LIB CONNECT TO 'Valet GET';" in text and "LIB CONNECT TO 'Valet POST';" in text
    assert "Butler_GET" not in text and "Butler_POST" not in text
    assert "vValetHost & ':' & vValetPort" in text and "vButlerHost" not in text


@pytest.mark.parametrize("option, value", [("--connection-get", "it's"), ("--connection-post", ""),
                                           ("--host-variable", "v x"), ("--port-variable", "1v"),
                                           ("--api-key-variable", "$(v)")])
def test_bad_names_are_refused_naming_the_option(tmp_path, option, value) -> None:
    r = generate(tmp_path, option, value)
    assert r.returncode == 2 and option in r.stderr
    assert not (tmp_path / "out.qvs").exists()


def test_the_api_key_variable_goes_with_every_request(tmp_path, run_script) -> None:
    r = generate(tmp_path, "--api-key-variable", "vValetApiKey")
    assert r.returncode == 0, r.stderr
    library = tmp_path / "out.qvs"
    run = run_script(f"""Call AddKeyValue('keyed', 'k', 'v')
Call GetKeyValue('keyed', 'k', 'vOut')
Call ExistsKeyValue('keyed', 'k', 'vExists')
Call GetKeyValueNamespaces('NS')
Call GetAllKeysInNamespace('Keys', 'keyed')
Call DeleteKeyValue('keyed', 'k')
Call StartTask('{OPS[0]}')
""", library=library, vValetApiKey='s3cr"t key').succeeded()
    assert len(run.requests) == 7
    assert all(r.headers.get("X-API-Key") == 's3cr"t key' for r in run.requests)
    assert json.loads(run.requests[0].body) == {"key": "k", "value": "v"}
    assert run.left_variables() == {"vOut", "vExists"}


def test_a_missing_api_key_fails_the_call_before_sending(tmp_path, run_script) -> None:
    generate(tmp_path, "--api-key-variable", "vValetApiKey")
    run = run_script("Call AddKeyValue('keyed', 'k', 'v')", library=tmp_path / "out.qvs")
    assert run.error is not None and run.requests == []
    assert any("AddKeyValue failed: set the variable vValetApiKey" in t for t in run.runner.trace)
