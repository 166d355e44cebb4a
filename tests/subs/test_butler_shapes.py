"""Apps that keep Butler's own published butler_subs.qvs work against Valet unchanged.

The script below is written from the issue's description of that file's shapes, not copied
from it: bodies built in a Let with doubled double quotes that the connector's BODY "..." turns
into ", `"ttl":""` and `"ttl":"30000"` (a string) in keyvaluestore items, `"ttl":"$(n)"` only
when positive, values pasted by dollar expansion, X-HTTP-Method-Override for PUT and DELETE, an
empty field list, variables cleared with `set x;`."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tasks.start_support import OPS

BUTLER_STYLE = '''
sub OldStartTask_KeyValue(vTaskId, vNamespace, vKey, vValue, vTTL)
    if (vTTL > 0) then
        let vBody = '[{""type"":""keyvaluestore"",""payload"":{""namespace"":""$(vNamespace)"",""key"":""$(vKey)"",""value"":""$(vValue)"",""ttl"":""$(vTTL)""}}]';
    else
        let vBody = '[{""type"":""keyvaluestore"",""payload"":{""namespace"":""$(vNamespace)"",""key"":""$(vKey)"",""value"":""$(vValue)"",""ttl"":""""}}]';
    end if
    LIB CONNECT TO 'Butler_POST';
    RestConnectorMasterTable:
    SQL SELECT
        "taskId"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/reloadtask/$(vTaskId)/start",
    BODY "$(vBody)",
    HTTPHEADER "X-HTTP-Method-Override" "PUT",
    );
    set vBody;
    DROP TABLE RestConnectorMasterTable;
end sub

sub OldAddKeyValue(vNamespace, vKey, vValue, vTimeToLive)
    LIB CONNECT TO 'Butler_POST';
    if (vTimeToLive > 0) then
        let vBody = '{"key": "$(vKey)", "value": "$(vValue)", "ttl": "$(vTimeToLive)"}';
    else
        let vBody = '{"key": "$(vKey)", "value": "$(vValue)"}';
    end if
    let vBody = Replace(vBody, '"', Chr(34) & Chr(34));
    RestConnectorMasterTable:
    SQL SELECT "namespace", "key", "value", "ttl"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/keyvalues/$(vNamespace)",
    BODY "$(vBody)",
    HTTPHEADER "Content-Type" "application/json"
    );
    set vBody;
    DROP TABLE RestConnectorMasterTable;
end sub

sub OldGetKeyValue(vNamespace, vKey, vResultVarName)
    LIB CONNECT TO 'Butler_GET';
    RestConnectorMasterTable:
    SQL SELECT "key", "value"
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/keyvalues/$(vNamespace)?key=$(vKey)"
    );
    let $(vResultVarName) = Peek('value', 0, 'RestConnectorMasterTable');
    set vResultVarName=;
    DROP TABLE RestConnectorMasterTable;
end sub

sub OldExistsKeyValue(vNamespace, vKey, vResultVarName)
    LIB CONNECT TO 'Butler_GET';
    RestConnectorMasterTable:
    SQL SELECT "keyExists", "__KEY_root",
        (SELECT "namespace", "key", "value", "ttl", "__FK_keyValue" FROM "keyValue" FK "__FK_keyValue")
    FROM JSON (wrap on) "root" PK "__KEY_root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/keyvalues/$(vNamespace)/keyexists?key=$(vKey)",
    );
    let $(vResultVarName) = Peek('keyExists', 0, 'RestConnectorMasterTable');
    DROP TABLE RestConnectorMasterTable;
end sub

sub OldDeleteKeyValue(vNamespace, vKey)
    LIB CONNECT TO 'Butler_POST';
    RestConnectorMasterTable:
    SQL SELECT
    FROM JSON (wrap on) "root"
    WITH CONNECTION (
    Url "$(vButlerHost):$(vButlerPort)/v4/keyvalues/$(vNamespace)/$(vKey)",
    HTTPHEADER "X-HTTP-Method-Override" "DELETE"
    );
    set vNamespace;
    DROP TABLE RestConnectorMasterTable;
end sub
'''


def test_butlers_shapes_work_against_valet(run_script, open_valet, qlog, kv, ns) -> None:
    run = run_script(BUTLER_STYLE + f"""
Call OldStartTask_KeyValue('{OPS[0]}', '{ns}', 'noTtl', 'first', 0)
Call OldStartTask_KeyValue('{OPS[0]}', '{ns}', 'stringTtl', 'second', 30000)
Call OldAddKeyValue('{ns}', 'added', 'third', 60000)
Call OldAddKeyValue('{ns}', 'plain', 'fourth', 0)
Call OldGetKeyValue('{ns}', 'added', 'vRead')
Call OldExistsKeyValue('{ns}', 'plain', 'vExists')
Call OldDeleteKeyValue('{ns}', 'plain')
Call GetKeyValue('{ns}', 'stringTtl', 'vNew')
""").succeeded()
    bodies = [json.loads(r.body) if r.body else None for r in run.requests]
    assert bodies[0][0]["payload"]["ttl"] == "" and bodies[1][0]["payload"]["ttl"] == "30000"
    assert bodies[2] == {"key": "added", "value": "third", "ttl": "60000"}
    assert "ttl" not in bodies[3]
    assert qlog.starts() == {OPS[0]: 2}
    assert (run.var("vRead"), run.var("vExists"), run.var("vNew")) == ("third", "true", "second")
    assert (kv(ns, "noTtl"), kv(ns, "added"), kv(ns, "plain")) == ("first", "third", None)
    assert stored_ttls(open_valet, ns) == {"noTtl": 0, "stringTtl": 30000, "added": 60000}


def stored_ttls(valet, namespace: str) -> dict[str, int]:
    """The TTL of each key as Valet stored it (its SQLite file under the data directory)."""
    db = sqlite3.connect(Path(valet.data_dir) / "data" / "valet.sqlite3")
    try:
        rows = db.execute("SELECT key, ttl_ms FROM kv_entries WHERE namespace = ?", (namespace,))
        return dict(rows.fetchall())
    finally:
        db.close()
