"""The start rules beyond the reference examples (SPEC §2): the filter judged per item, what
allTaskIdsMustExist leaves alone, de-duplication, disabled tasks, tags and custom-property
values that try to inject into the repository filter, the KV switch, the audit trail."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from helpers import log_once_written
from server.tasks import ITEM_TYPES
from tasks.start_support import (A1, A2, A3, A4, DISABLED, TRICKY, TRICKY_TAGS, audit_rows, cp,
                                 ids, kv, kv_rows, qrs_config, refs, result, start, tag, tid)

UNKNOWN = "00000000-1111-4222-8333-444444444444"
DISABLED_REASON = "the task is disabled in Sense; enable it in the QMC to start it"


def lookup_filters(qlog) -> list[str]:
    return [r["query"].get("filter", "") for r in qlog.new() if r["method"] == "GET"]


# -- the start filter, per item ----------------------------------------------------------------
def test_filter_denies_each_item_by_its_own_list(filtered_valet, qlog) -> None:
    body = [tid(A4[0]), tid(UNKNOWN), tag("startTask2"), tag("secret"), cp("tasks2"),
            cp("tasks3"), cp("tasks1", name="other")]
    r = start(filtered_valet, "-", body)
    assert r.json() == result(
        denied=ids(A4[0], UNKNOWN),  # not allowed: denied whether or not it exists
        by_tag=refs(A3), tag_denied=[{"tag": "secret"}],
        by_cp=refs(A2), cp_denied=[{"name": "taskGroup", "value": "tasks3"},
                                   {"name": "other", "value": "tasks1"}])
    assert qlog.starts() == {A3[0]: 1, A2[0]: 1}
    filters = " ".join(lookup_filters(qlog))
    assert "secret" not in filters and "tasks3" not in filters and UNKNOWN not in filters


def test_an_id_allowed_for_one_item_kind_is_not_allowed_for_another(filtered_valet, qlog) -> None:
    """A4 is reachable by no allowed item; startTask1 is an allowed tag, not an ID."""
    r = start(filtered_valet, "-", [tag("startTask1"), tid(A4[0])])
    assert r.json() == result(by_tag=refs(A1, A2, A3), denied=ids(A4[0]))


def test_filter_compares_tags_and_ids_as_sense_does(filtered_valet, qlog) -> None:
    """Sense's string comparisons are case-insensitive (help.qlik.com, QRS API "Filtering");
    an allowed tag in other capitals selects exactly the same tasks."""
    r = start(filtered_valet, A1[0].upper(), [tag("STARTTASK2"), cp("TASKS2", name="TaskGroup")])
    assert r.json() == result(started=refs(A1), by_tag=refs(A3), by_cp=refs(A2))


def test_filter_off_starts_anything_that_exists(open_valet, qlog) -> None:
    r = start(open_valet, A4[0], [tag("startTask2")])
    assert r.json() == result(started=refs(A4), by_tag=refs(A3))


# -- allTaskIdsMustExist, de-duplication -------------------------------------------------------
def test_all_ids_must_exist_leaves_tags_and_custom_properties_alone(open_valet, qlog) -> None:
    r = start(open_valet, A1[0], [tid(UNKNOWN), tag("startTask2"), cp("tasks2")],
              "?allTaskIdsMustExist=true")
    assert r.json() == result(invalid=ids(UNKNOWN), denied=ids(A1[0]), by_tag=refs(A3),
                              by_cp=refs(A2))
    assert qlog.starts() == {A3[0]: 1, A2[0]: 1}


def test_unknown_guid_is_invalid_and_the_rest_starts_without_the_flag(open_valet, qlog) -> None:
    r = start(open_valet, A1[0], [tid(UNKNOWN)])
    assert r.json() == result(started=refs(A1), invalid=ids(UNKNOWN))
    assert qlog.starts() == {A1[0]: 1}


def test_a_task_matched_four_ways_is_listed_under_each_and_started_once(open_valet, qlog) -> None:
    r = start(open_valet, A1[0], [tid(A1[0]), tag("startTask1"), cp("tasks1")])
    assert r.json() == result(started=refs(A1, A1), by_tag=refs(A1, A2, A3),
                              by_cp=refs(A1, A2, A3))
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1, A3[0]: 1}
    # the ID on the condensed tasks, the tag and property on whole ones (at the same time)
    assert sorted(p for m, p in qlog.paths()) == ["/qrs/task", "/qrs/task/full", "/qrs/task/start/many"]


def test_ids_and_names_over_one_url_are_picked_from_one_unfiltered_list(open_valet, qlog) -> None:
    """200 unknown IDs make the ID terms need two URLs: one `GET /qrs/task` without a filter
    instead, the answer the same as the filtered lookups give (IDs as GUIDs in any case, a
    duplicate listed under each item and started once, names exact)."""
    unknown = [f"00000000-2222-4333-8444-{n:012d}" for n in range(200)]
    names = [{"type": "starttaskname", "payload": {"taskName": n}}
             for n in (A3[1], A4[1].lower())]
    body = [tid(A1[0].upper()), *map(tid, unknown[:100]), tid(A2[0]), *map(tid, unknown[100:]),
            tid(A2[0].upper()), *names]
    answer = start(open_valet, "-", body).json()
    assert answer["tasksName"] == refs(A3)
    assert [n["taskName"] for n in answer["tasksNameInvalid"]] == [A4[1].lower()]
    assert {k: v for k, v in answer.items() if not k.startswith("tasksName")} == result(
        started=refs(A1, A2, A2), invalid=ids(*unknown))
    assert qlog.starts() == {A1[0]: 1, A2[0]: 1, A3[0]: 1}
    assert qlog.paths() == [("GET", "/qrs/task"), ("POST", "/qrs/task/start/many")]
    assert lookup_filters(qlog) == [""]


def test_nothing_to_start_is_a_200_with_no_repository_call(open_valet, qlog) -> None:
    r = start(open_valet, "-", [])
    assert r.status_code == 200 and r.json() == result()
    assert qlog.new() == []


def test_a_tag_that_matches_nothing_starts_nothing(open_valet, qlog) -> None:
    r = start(open_valet, "-", [tag("no such tag")])
    assert r.status_code == 200 and r.json() == result()
    assert [m for m, _p in qlog.paths()] == ["GET"]


def test_no_body_at_all_is_read_as_an_empty_list(open_valet, qlog) -> None:
    r = requests.put(f"{open_valet.url}/v4/reloadtask/{A2[0]}/start", timeout=10)
    assert r.json() == result(started=refs(A2))


# -- disabled tasks ----------------------------------------------------------------------------
def test_a_disabled_task_is_failed_not_started(open_valet, qlog) -> None:
    r = start(open_valet, DISABLED[0], [tag("mixed")])
    assert r.json() == result(by_tag=refs(*TRICKY),
                              failed=[{"taskId": DISABLED[0], "taskName": DISABLED[1],
                                       "reason": DISABLED_REASON}])
    assert qlog.starts() == {t: 1 for t, _n in TRICKY}


# -- injection attempts ------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(len(TRICKY_TAGS)), ids=TRICKY_TAGS)
def test_tricky_tags_and_values_match_literally(open_valet, qlog, index) -> None:
    text = TRICKY_TAGS[index]
    r = start(open_valet, "-", [tag(text), cp(text, name="owner")])
    assert r.json() == result(by_tag=refs(TRICKY[index]), by_cp=refs(TRICKY[index]))
    assert qlog.starts() == {TRICKY[index][0]: 1}


@pytest.mark.parametrize("text", ["nothing' or name sw '", "a') or (name ne 'b",
                                  "x\\' or name sw \\'", "%27 or name sw %27"])
def test_injection_attempts_match_nothing(open_valet, qlog, text) -> None:
    r = start(open_valet, "-", [tag(text), cp(text), cp("tasks1", name=text)])
    assert r.status_code == 200 and r.json() == result()
    assert qlog.starts() == {}


# -- key-value items ---------------------------------------------------------------------------
def test_key_value_items_are_stored_before_the_start(open_valet, qlog) -> None:
    r = start(open_valet, A1[0], [kv("order", "first", namespace="ordering")])
    assert r.status_code == 200
    rows = kv_rows(open_valet)
    assert ("ordering", "order", "first") in rows


def test_key_value_items_are_not_stored_when_the_kv_store_is_disabled(start_valet, sense, qlog) -> None:
    valet = start_valet(butler=qrs_config(sense, restServerEndpointsEnable={"keyValueStore": False}))
    r = start(valet, A1[0], [kv("k", "v", namespace="disabled-kv")])
    assert r.json() == result(started=refs(A1))
    assert kv_rows(valet) == []
    assert start(valet, A1[0]).json() == result(started=refs(A1))  # and without key-value items


def test_the_endpoint_is_absent_when_disabled(start_valet, sense) -> None:
    valet = start_valet(butler=qrs_config(sense, restServerEndpointsEnable={"senseStartTask": False}))
    r = start(valet, A1[0])
    assert r.status_code == 404 and "Butler.restServerEndpointsEnable.senseStartTask" in r.json()["message"]


# -- the audit trail ---------------------------------------------------------------------------
def test_every_call_is_audited_in_the_table_and_the_log(open_valet, qlog) -> None:
    before = len(audit_rows(open_valet))
    start(open_valet, A1[0], [tag("startTask2"), tid("nope"), kv("secretKey", "s3cr3t-value")])
    rows = audit_rows(open_valet)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["caller"] == "127.0.0.1" and row["entry_point"] == "rest"
    asked = json.loads(row["request"])
    assert asked["items"] == [{"type": "starttaskid", "taskId": A1[0]},
                              {"type": "starttasktag", "tag": "startTask2"},
                              {"type": "starttaskid", "taskId": "nope"},
                              {"type": "keyvaluestore", "namespace": "MyFineNamespace",
                               "key": "secretKey"}]
    outcome = json.loads(row["outcome"])
    assert outcome["status"] == 200 and outcome["repositoryRequests"] == 3  # 2 lookups, 1 start
    assert outcome["result"] == result(started=refs(A1), invalid=ids("nope"), by_tag=refs(A3))
    log_text = log_once_written(Path(open_valet.data_dir) / "valet.log", "start-task from 127.0.0.1",
                                times=len(rows))  # every call so far, this one last
    line = [ln for ln in log_text.splitlines() if "start-task from 127.0.0.1" in ln][-1]
    assert A1[0] in line and "startTask2" in line and "nope" in line and A3[0] in line
    assert "s3cr3t-value" not in log_text and "s3cr3t-value" not in row["request"]


# -- the OpenAPI document ----------------------------------------------------------------------
def test_openapi_describes_the_body_and_the_answer(open_valet) -> None:
    doc = requests.get(f"{open_valet.url}/openapi.json", timeout=5).json()
    path = "/v4/reloadtask/{task_id}/start"
    operation = doc["paths"][path]["put"]
    assert set(doc["paths"][path]) >= {"put", "post"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    item = doc["components"]["schemas"][body["items"]["$ref"].split("/")[-1]]
    assert body["type"] == "array" and item["properties"]["type"]["enum"] == list(ITEM_TYPES)
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = doc["components"]["schemas"][answer.split("/")[-1]]["properties"]
    # plus Valet's lists for starttaskname items, answered only when such items are sent
    assert set(fields) == set(result()) | {"tasksName", "tasksNameDenied", "tasksNameInvalid"}
    assert {"400", "502", "503", "504"} <= set(operation["responses"])
