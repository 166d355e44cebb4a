"""Every curl example of the reference document (shared/reference/butler-start-sense-tasks.txt,
"Start Sense tasks using REST API") against Valet + the simulated repository: the documented
response (in the documented order, plus Valet's empty `failed`), and which starts the repository
really received: each matched task exactly once per call, in one task/start/many, after one
lookup."""
from __future__ import annotations

import pytest
import requests

from tasks.start_support import (A1, A2, A3, A4, OPS, cp, ids, kv, refs, result, start, tag,
                                 tid)

SHORT = "fb0f317d-da91-4b86-aafa-0174ae1e8c8"  # "too short" in the document

# (name, filtered?, URL task ID, query, body, expected response)
CASES = [
    ("single task by ID", False, A1[0], "", [], result(started=refs(A1))),
    ("invalid task ID", False, "abc123", "", [], result(invalid=ids("abc123"))),
    ("IDs in the body, magic '-' in the URL", False, "-", "", [tid(A2[0]), tid(A3[0])],
     result(started=refs(A2, A3))),
    ("all IDs must exist, filter on", True, A1[0], "?allTaskIdsMustExist=true",
     [tid(A2[0]), tid(SHORT)], result(invalid=ids(SHORT), denied=ids(A1[0], A2[0]))),
    ("all IDs must exist, filter off", False, A1[0], "?allTaskIdsMustExist=true",
     [tid(A2[0]), tid(SHORT)], result(invalid=ids(SHORT), denied=ids(A1[0], A2[0]))),
    ("filter on: allowed, invalid, not allowed", True, A1[0], "",
     [tid(A2[0]), tid(SHORT), tid(A4[0])],
     result(started=refs(A1, A2), invalid=ids(SHORT), denied=ids(A4[0]))),
    ("tag startTask1", False, "-", "", [tag("startTask1")], result(by_tag=refs(A1, A2, A3))),
    ("custom property taskGroup tasks1 and tasks2", False, "-", "?allTaskIdsMustExist=false",
     [cp("tasks1"), cp("tasks2")], result(by_cp=refs(A1, A2, A3, A2))),
    ("parameters in the key-value store", False, OPS[0], "",
     [kv("AnImportantKey", "TheValue", 10000), kv("Foo", "Bar")], result(started=refs(OPS))),
    ("a bit of everything", False, A1[0], "?allTaskIdsMustExist=true",
     [tid(A2[0]), tid(A3[0]), tag("startTask1"), tag("startTask2"), cp("tasks1"), cp("tasks2"),
      kv("AnImportantKey", "TheValue", 10000), kv("Foo", "Bar")],
     result(started=refs(A1, A2, A3), by_tag=refs(A1, A2, A3, A3), by_cp=refs(A1, A2, A3, A2))),
]


@pytest.mark.parametrize("name, filtered, url_id, query, body, expected", CASES,
                         ids=[c[0] for c in CASES])
def test_reference_example(request, store_url, qlog, name, filtered, url_id, query, body,
                           expected) -> None:
    # store_url: runs on each store (the Valet fixture is fetched by name, below)
    valet = request.getfixturevalue("filtered_valet" if filtered else "open_valet")
    r = start(valet, url_id, body, query)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == expected
    started = expected["tasksId"]["started"] + expected["tasksTag"] + expected["tasksCP"]
    assert qlog.starts() == {t["taskId"]: 1 for t in started}
    lookups = [p for m, p in qlog.paths() if m == "GET" and p != "/qrs/about"]  # about: start-up
    # at most one lookup per endpoint: condensed tasks for IDs, whole ones for tags and
    # properties; a non-GUID is never looked up
    assert len(lookups) == len(set(lookups)) and set(lookups) <= {"/qrs/task", "/qrs/task/full"}
    assert lookups if url_id != "abc123" else not lookups
    assert [p for m, p in qlog.paths() if m == "POST"] == (["/qrs/task/start/many"] if started else [])


def test_parameters_are_readable_by_the_reloading_app(open_valet, qlog) -> None:
    r = start(open_valet, OPS[0], [kv("AnImportantKey", "TheValue", 10000), kv("Foo", "Bar")])
    assert r.status_code == 200
    for key, value in (("Foo", "Bar"), ("AnImportantKey", "TheValue")):
        got = requests.get(f"{open_valet.url}/v4/keyvalues/MyFineNamespace", params={"key": key},
                           timeout=5)
        assert got.json() == {"namespace": "MyFineNamespace", "key": key, "value": value}
    ttl = requests.get(f"{open_valet.url}/v4/keylist/MyFineNamespace", timeout=5).json()
    assert {"key": "AnImportantKey"} in ttl["keys"]


def test_post_works_like_put_and_so_does_the_method_override(open_valet, qlog) -> None:
    """Qlik's REST connector sends only GET and POST (SPEC §2)."""
    by_post = start(open_valet, A1[0], method="POST")
    overridden = start(open_valet, A2[0], method="POST", headers={"X-HTTP-Method-Override": "PUT"})
    assert by_post.json() == result(started=refs(A1))
    assert overridden.json() == result(started=refs(A2))
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1}
