"""`python -m emulator SCRIPT [--connections FILE] [--var NAME=VALUE]... [--dump FILE]` (SPEC §9),
run as a real subprocess."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def emulator(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_successful_run_prints_trace_and_dumps_everything(tmp_path: Path) -> None:
    (tmp_path / "app.qvs").write_text(
        "Let vGreeting = 'Hello ' & vName;\nTrace $(vGreeting);\nLet vNull = Null();\n"
        "T:\nLoad * Inline [\nId, Name\n1, a\n2, \n];\n", encoding="utf-8")
    result = emulator("app.qvs", "--var", "vName=Qlik=Sense", "--dump", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello Qlik=Sense\n"
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == {
        "variables": {"vName": "Qlik=Sense", "ScriptError": "", "ScriptErrorCount": "0",
                      "ScriptErrorList": "", "vGreeting": "Hello Qlik=Sense", "vNull": None},
        "tables": {"T": {"fields": ["Id", "Name"], "rows": [["1", "a"], ["2", ""]]}},
        "requests": [],
        "trace": ["Hello Qlik=Sense"],
    }


def test_failed_run_exits_non_zero_and_still_dumps(tmp_path: Path) -> None:
    (tmp_path / "app.qvs").write_text("Let a = 1;\nTrace before;\nDrop Table Missing;\nLet a = 2;\n",
                                      encoding="utf-8")
    result = emulator("app.qvs", "--dump", "out.json", cwd=tmp_path)
    assert result.returncode == 1
    assert "app.qvs:3: Table 'Missing' not found" in result.stderr
    assert "Drop Table Missing" in result.stderr
    dump = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert dump["variables"]["a"] == "1"
    assert dump["trace"] == ["before"]
    assert dump["error"] == {"message": "Table 'Missing' not found", "file": "app.qvs", "line": 3}


def test_connections_file_and_recorded_requests(tmp_path: Path, http_server) -> None:
    http_server.answers.append((200, json.dumps([{"name": "ns1"}, {"name": "ns2"}])))
    (tmp_path / "connections.yaml").write_text(
        f"Butler_GET:\n  url: {http_server.url}/v4/keyvaluesnamespaces\n  method: GET\n"
        "  headers:\n    X-Test: hello\n", encoding="utf-8")
    (tmp_path / "app.qvs").write_text(
        "LIB CONNECT TO 'Butler_GET';\nNamespaces:\nSQL SELECT \"name\" FROM JSON (wrap on) \"root\";\n"
        "Let n = NoOfRows('Namespaces');\n", encoding="utf-8")
    result = emulator("app.qvs", "--connections", "connections.yaml", "--dump", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    dump = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert dump["variables"]["n"] == "2"
    assert dump["tables"]["Namespaces"]["rows"] == [["ns1"], ["ns2"]]
    assert dump["requests"] == [{"method": "GET", "url": f"{http_server.url}/v4/keyvaluesnamespaces",
                                 "headers": {"X-Test": "hello"}, "body": None}]
    assert http_server.seen[0]["headers"]["X-Test"] == "hello"


def test_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "app.qvs").write_text("Let a = 1;", encoding="utf-8")
    assert emulator("app.qvs", "--var", "novalue", cwd=tmp_path).returncode == 2
    missing = emulator("missing.qvs", cwd=tmp_path)
    assert missing.returncode == 1 and "missing.qvs" in missing.stderr


def test_lib_maps_a_connection_to_a_folder(tmp_path: Path) -> None:
    """`--lib NAME=DIR`: lib://NAME/... is read and written in DIR."""
    data = tmp_path / "shared-data"
    (data / "in").mkdir(parents=True)
    (data / "in" / "t.csv").write_text("A,B\n1,x\n2,y\n", encoding="utf-8")
    (tmp_path / "app.qvs").write_text(
        "T: LOAD * FROM [lib://DataFiles/in/t.csv] (txt, embedded labels);\n"
        "Store T into [lib://DataFiles/out/t.qvd] (qvd);\n", encoding="utf-8")
    result = emulator("app.qvs", "--lib", f"DataFiles={data}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (data / "out" / "t.qvd").is_file()


def test_lib_without_equals_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "app.qvs").write_text("Let a = 1;", encoding="utf-8")
    result = emulator("app.qvs", "--lib", "DataFiles", cwd=tmp_path)
    assert result.returncode == 2 and "--lib expects NAME=VALUE" in result.stderr


def test_libs_section_of_the_connections_file(tmp_path: Path) -> None:
    """`libs: {NAME: DIR}` in the connections file, DIR relative to that file; --lib overrides."""
    (tmp_path / "conf" / "data").mkdir(parents=True)
    (tmp_path / "conf" / "data" / "t.csv").write_text("A\n7\n", encoding="utf-8")
    (tmp_path / "conf" / "connections.yaml").write_text("libs:\n  DataFiles: data\n", encoding="utf-8")
    (tmp_path / "app.qvs").write_text("T: LOAD * FROM [lib://DataFiles/t.csv] (txt);\n"
                                      "Let a = Peek('A', 0, 'T');\n", encoding="utf-8")
    result = emulator("app.qvs", "--connections", "conf/connections.yaml", "--dump", "out.json",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["variables"]["a"] == "7"
    (tmp_path / "conf" / "connections.yaml").write_text("libs:\n  DataFiles: [x]\n", encoding="utf-8")
    result = emulator("app.qvs", "--connections", "conf/connections.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "'libs' must map connection names to folders" in result.stderr


def test_system_values_and_rand_seed(tmp_path: Path) -> None:
    """--system sets what system functions return; --seed makes Rand() repeat its numbers."""
    (tmp_path / "app.qvs").write_text(
        "Trace $(=OSUser()) on $(=ComputerName());\nLet r1 = Rand();\nLet r2 = Rand();\n",
        encoding="utf-8")
    args = ("app.qvs", "--system", "OSUser=UserDirectory=INTERNAL; UserId=sa_scheduler",
            "--system", "ComputerName=SENSE01", "--seed", "7", "--dump", "out.json")
    first = emulator(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "UserDirectory=INTERNAL; UserId=sa_scheduler on SENSE01\n"
    numbers = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["variables"]
    again = emulator(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    repeated = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["variables"]
    assert (numbers["r1"], numbers["r2"]) == (repeated["r1"], repeated["r2"])
    assert numbers["r1"] != numbers["r2"] and 0 <= float(numbers["r1"]) < 1
    other = emulator("app.qvs", "--seed", "8", "--dump", "out.json", cwd=tmp_path)
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["variables"]["r1"] != numbers["r1"]
    assert other.returncode == 0
