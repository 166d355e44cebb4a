"""The key-value subs through the emulator against a live Valet: the exact request, the value
stored and read back, what is left behind; hostile values, namespaces and keys byte for byte."""
from __future__ import annotations

import json
import string

import pytest
import requests

from tasks.start_support import TRICKY

HOSTILE_VALUES = ['He said "hi"', "back\\slash", "line1\nline2", "tab\there", "cr\rhere",
                  "åäö 🚀 ∑", "a,b;c", "it's", "$(vX)", "[bracket]", "x" * 5000, "",
                  "\x01\x1f control", "{\"json\": [1]}", "</script> & <b>"]
HOSTILE_NAMES = ["with space", "a/b", "hash#tag", "100%", "what?", "R&D", "O'Brien", "🚀 rocket",
                 "åäö", "dots.in.it", "..", "plus+equals=", "$(vX)"]


def pct(text: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 bytes, keeping the unreserved letters, digits, - . _ ~.
    The subs encode '.' too; the emulator's HTTP client (requests) turns an encoded unreserved
    character back, which RFC 3986 §2.3 makes equivalent."""
    keep = string.ascii_letters + string.digits + "-._~"
    return "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)


def base(run) -> str:
    return f"{run.var('vButlerHost')}:{run.var('vButlerPort')}"


def test_add_key_value_request_and_effect(run_script, kv, ns) -> None:
    run = run_script(f"Call AddKeyValue('{ns}', 'k1', 'v1', 60000)").succeeded()
    [r] = run.requests
    assert (r.method, r.url) == ("POST", f"{base(run)}/v4/keyvalues/{ns}")
    assert r.headers == {"Content-Type": "application/json"}
    assert json.loads(r.body) == {"key": "k1", "value": "v1", "ttl": 60000}
    assert kv(ns, "k1") == "v1"
    assert run.left_variables() == set() and run.tables() == set()


@pytest.mark.parametrize("ttl", ["", ", 0", ", -5", ", ''", ", Null()"])
def test_add_key_value_without_ttl_sends_none(run_script, ns, ttl) -> None:
    run = run_script(f"Call AddKeyValue('{ns}', 'k', 'v'{ttl})").succeeded()
    assert json.loads(run.requests[0].body) == {"key": "k", "value": "v"}


def test_add_key_value_ttl_is_a_whole_number(run_script, ns) -> None:
    run = run_script(f"Call AddKeyValue('{ns}', 'k', 'v', '1500.9')").succeeded()
    assert json.loads(run.requests[0].body)["ttl"] == 1500


def test_add_key_value_refuses_a_ttl_that_is_not_a_number(run_script, ns, kv) -> None:
    run = run_script(f"Call AddKeyValue('{ns}', 'k', 'v', 'tomorrow')")
    assert run.error is not None and run.requests == [] and kv(ns, "k") is None
    assert any("AddKeyValue failed: vTimeToLive must be a number" in t for t in run.runner.trace)


def test_get_key_value(run_script, open_valet, ns) -> None:
    requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": "k", "value": "007"}, timeout=10)
    run = run_script(f"Call GetKeyValue('{ns}', 'k', 'vOut')").succeeded()
    [r] = run.requests
    assert (r.method, r.url, r.body) == ("GET", f"{base(run)}/v4/keyvalues/{ns}?key=k", None)
    assert run.var("vOut") == "007"
    assert run.left_variables() == {"vOut"} and run.tables() == set()


def test_get_key_value_of_a_missing_key_fails_with_valets_message(run_script, ns) -> None:
    run = run_script(f"Call GetKeyValue('{ns}', 'nope', 'vOut')")
    assert run.error is not None
    [message] = [t for t in run.runner.trace if "failed" in t]
    assert message.startswith("butler_subs.qvs: GetKeyValue failed: the request to ")
    assert "400" in message and "default=" in message  # Valet's message says how to fix it
    assert run.var("vOut") is None


def test_get_key_value_or_default(run_script, open_valet, ns) -> None:
    requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": "set", "value": "here"}, timeout=10)
    run = run_script(f"Call GetKeyValueOrDefault('{ns}', 'set', 'fallback', 'vA')\n"
                     f"Call GetKeyValueOrDefault('{ns}', 'unset', 'fall back', 'vB')\n"
                     f"Call GetKeyValueOrDefault('{ns}', 'unset', Null(), 'vC')\n").succeeded()
    assert [r.url for r in run.requests] == [
        f"{base(run)}/v4/keyvalues/{ns}?key=set&default=fallback",
        f"{base(run)}/v4/keyvalues/{ns}?key=unset&default=fall%20back",
        f"{base(run)}/v4/keyvalues/{ns}?key=unset&default="]
    assert (run.var("vA"), run.var("vB"), run.var("vC")) == ("here", "fall back", "")
    assert run.left_variables() == {"vA", "vB", "vC"} and run.tables() == set()


def test_exists_key_value(run_script, open_valet, ns) -> None:
    requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": "k", "value": "v"}, timeout=10)
    run = run_script(f"Call ExistsKeyValue('{ns}', 'k', 'vYes')\nCall ExistsKeyValue('{ns}', 'x', 'vNo')\n"
                     "Call ExistsKeyValue('no-such-namespace-at-all', 'x', 'vNone')\n").succeeded()
    assert run.requests[0].url == f"{base(run)}/v4/keyvalues/{ns}/keyexists?key=k"
    assert (run.var("vYes"), run.var("vNo"), run.var("vNone")) == ("true", "false", "false")
    assert run.left_variables() == {"vYes", "vNo", "vNone"} and run.tables() == set()


def test_delete_key_value_and_namespace(run_script, open_valet, kv, ns) -> None:
    for key in ("a", "b"):
        requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": key, "value": key}, timeout=10)
    run = run_script(f"Call DeleteKeyValue('{ns}', 'a')").succeeded()
    [r] = run.requests
    assert (r.method, r.url, r.headers) == ("POST", f"{base(run)}/v4/keyvalues/{ns}/a",
                                            {"X-HTTP-Method-Override": "DELETE"})
    assert (kv(ns, "a"), kv(ns, "b")) == (None, "b")
    run = run_script(f"Call DeleteKeyValueNamespace('{ns}')").succeeded()
    [r] = run.requests
    assert (r.method, r.url, r.headers) == ("POST", f"{base(run)}/v4/keyvalues/{ns}",
                                            {"X-HTTP-Method-Override": "DELETE"})
    assert kv(ns, "b") is None
    assert run.left_variables() == set() and run.tables() == set()


def test_delete_of_an_unknown_key_fails_naming_the_sub(run_script, ns) -> None:
    run = run_script(f"Call DeleteKeyValue('{ns}', 'never')")
    assert run.error is not None
    assert any(t.startswith("butler_subs.qvs: DeleteKeyValue failed:") and "400" in t for t in run.runner.trace)


def test_namespaces_and_keys_tables(run_script, open_valet, ns) -> None:
    for key in ("k2", "k1"):
        requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": key, "value": "v"}, timeout=10)
    run = run_script(f"Call GetKeyValueNamespaces('NS')\nCall GetAllKeysInNamespace('Keys', '{ns}')\n"
                     "Call GetAllKeysInNamespace('None', 'empty-namespace-here')\n").succeeded()
    assert [r.url for r in run.requests] == [f"{base(run)}/v4/keyvaluesnamespaces",
                                             f"{base(run)}/v4/keylist/{ns}",
                                             f"{base(run)}/v4/keylist/empty-namespace-here"]
    tables = run.runner.model.tables
    assert tables["NS"].fields == ["Namespace name"] and [ns] in tables["NS"].texts()
    assert (tables["Keys"].fields, tables["Keys"].texts()) == (["Key"], [["k1"], ["k2"]])
    assert (tables["None"].fields, tables["None"].texts()) == (["Key"], [])
    assert run.left_variables() == set() and run.tables() == {"NS", "Keys", "None"}


def test_callers_qualify_errormode_and_tables_are_respected(run_script, open_valet, ns) -> None:
    requests.post(f"{open_valet.url}/v4/keyvalues/{ns}", json={"key": "k", "value": "v"}, timeout=10)
    run = run_script(f"""Set ErrorMode = 0;
Mine:
Load * Inline [
key, value
a, b
];
Qualify *;
Call GetKeyValue('{ns}', 'k', 'vOut')
Call ExistsKeyValue('{ns}', 'k', 'vExists')
Call GetAllKeysInNamespace('Keys', '{ns}')
""").succeeded()
    assert (run.var("vOut"), run.var("vExists"), run.var("ErrorMode")) == ("v", "true", "0")
    assert run.runner.model.tables["Mine"].texts() == [["a", "b"]]  # nothing concatenated to it
    assert run.runner.model.tables["Keys"].texts() == [["k"]]
    assert run.tables() == {"Mine", "Keys"}


def test_missing_arguments_and_settings_fail_clearly(run_script) -> None:
    run = run_script("Call AddKeyValue('', 'k', 'v')")
    assert run.error is not None and run.requests == []
    assert any("AddKeyValue failed: vNamespace is empty or Null()" in t for t in run.runner.trace)
    run = run_script("Let vButlerHost = Null();\nCall GetKeyValue('n', 'k', 'vOut')")
    assert run.error is not None and run.requests == []
    assert any("GetKeyValue failed: set the variables vButlerHost" in t for t in run.runner.trace)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: repr(v[:12]))
def test_hostile_values_round_trip(run_script, kv, ns, value) -> None:
    run = run_script(f"Call AddKeyValue('{ns}', 'k', vIn, 0)\nCall GetKeyValue('{ns}', 'k', 'vOut')\n"
                     f"Call GetKeyValueOrDefault('{ns}', 'missing', vIn, 'vFallback')\n"
                     f"Call StartTask_KeyValue(Null(), '{ns}', 'viaStart', vIn)\n", vIn=value).succeeded()
    add, get, default, start = run.requests
    assert json.loads(add.body) == {"key": "k", "value": value}
    assert "$(" not in add.body and "$(" not in start.body  # `$` travels as \u0024
    assert default.url.endswith("&default=" + pct(value))
    assert json.loads(start.body)[0]["payload"]["value"] == value
    assert kv(ns, "k") == value and kv(ns, "viaStart") == value
    assert (run.var("vOut"), run.var("vFallback"), run.var("vIn")) == (value, value, value)
    assert run.left_variables() == {"vOut", "vFallback"} and run.tables() == set()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_namespaces_and_keys(run_script, kv, name) -> None:
    run = run_script("Call AddKeyValue(vNs, vKey, 'v', 0)\nCall GetKeyValue(vNs, vKey, 'vOut')\n"
                     "Call ExistsKeyValue(vNs, vKey, 'vExists')\n"
                     "Call GetAllKeysInNamespace('Keys', vNs)\nCall DeleteKeyValue(vNs, vKey)\n"
                     "Call ExistsKeyValue(vNs, vKey, 'vGone')\nCall AddKeyValue(vNs, vKey, 'again', 0)\n"
                     "Call DeleteKeyValueNamespace(vNs)\n",
                     vNs=f"ns {name}", vKey=f"key {name}").succeeded()
    e_ns, e_key = pct(f"ns {name}"), pct(f"key {name}")
    assert [r.url.removeprefix(base(run)) for r in run.requests] == [
        f"/v4/keyvalues/{e_ns}", f"/v4/keyvalues/{e_ns}?key={e_key}",
        f"/v4/keyvalues/{e_ns}/keyexists?key={e_key}", f"/v4/keylist/{e_ns}",
        f"/v4/keyvalues/{e_ns}/{e_key}", f"/v4/keyvalues/{e_ns}/keyexists?key={e_key}",
        f"/v4/keyvalues/{e_ns}", f"/v4/keyvalues/{e_ns}"]
    assert json.loads(run.requests[0].body) == {"key": f"key {name}", "value": "v"}
    assert (run.var("vOut"), run.var("vExists"), run.var("vGone")) == ("v", "true", "false")
    assert run.runner.model.tables["Keys"].texts() == [[f"key {name}"]]
    assert kv(f"ns {name}", f"key {name}") is None  # the namespace is gone


def test_hostile_values_through_a_start_task_table(run_script, kv, ns) -> None:
    rows = ["'He said \"hi\"'", "'back\\slash'", "'line1' & Chr(10) & 'line2'", "'tab' & Chr(9)",
            "'åäö 🚀 ∑'", "'it''s'", "'$' & '(vX)'", "'[bracket]'", "Repeat('x', 5000)"]
    expected = ['He said "hi"', "back\\slash", "line1\nline2", "tab\t", "åäö 🚀 ∑", "it's",
                "$(vX)", "[bracket]", "x" * 5000]
    loads = "\n".join(f"Qualify *;\nKV:\nLoad '{ns}' as Namespace, 'k{i}' as Key, {expr} as Value AutoGenerate 1;"
                      for i, expr in enumerate(rows))
    run = run_script(loads + "\nCall StartTask(Null(), Null(), Null(), Null(), 'KV')\n").succeeded()
    body = json.loads(run.requests[0].body)
    assert [item["payload"]["value"] for item in body] == expected
    assert [kv(ns, f"k{i}") for i in range(len(rows))] == expected


def test_hostile_tags_and_custom_properties_reach_valet_exactly(run_script, qlog) -> None:
    exprs = ["'O''Brien'", "'R&D #1'", "'say \"x\"' & Chr(10) & '\\\\'", "'🚀 $' & '(vX)'"]
    texts = ["O'Brien", "R&D #1", 'say "x"\n\\\\', "🚀 $(vX)"]
    loads = "\n".join(f"Qualify *;\nTags:\nLoad {e} as Tag AutoGenerate 1;\n"
                      f"CP:\nLoad {e} as Name, {e} as Value AutoGenerate 1;" for e in exprs)
    run = run_script(loads + "\nCall StartTask(Null(), Null(), 'Tags', 'CP')\n").succeeded()
    body = json.loads(run.requests[0].body)
    assert [i["payload"]["tag"] for i in body if i["type"] == "starttasktag"] == texts
    assert [(i["payload"]["customPropertyName"], i["payload"]["customPropertyValue"])
            for i in body if i["type"] == "starttaskcustomproperty"] == [(t, t) for t in texts]
    # the simulated repository's tricky tasks are tagged O'Brien and R&D #1 (tests/tasks)
    assert qlog.starts() == {TRICKY[0][0]: 1, TRICKY[1][0]: 1}
