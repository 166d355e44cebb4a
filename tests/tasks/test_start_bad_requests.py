"""Malformed start requests: 400 in the one JSON error shape, with a message that names the item
and the field; nothing stored, nothing asked of the repository."""
from __future__ import annotations

import json

import pytest
import requests

from helpers import assert_error
from tasks.start_support import A1, kv, start

BAD_BODIES = [
    ({"type": "starttaskid", "payload": {"taskId": A1}}, "JSON array"),
    ("e3b27f50", "JSON array"),
    (None, "JSON array"),
    ([1], "item 1 must be an object"),
    ([{"type": "starttask", "payload": {}}], "item 1: type must be one of starttaskid"),
    ([{"type": "STARTTASKID", "payload": {"taskId": A1}}], "type must be one of"),
    ([{"payload": {"taskId": A1}}], "type must be one of"),
    ([{"type": "starttaskid"}], "item 1: payload must be an object"),
    ([{"type": "starttaskid", "payload": A1}], "payload must be an object"),
    ([{"type": "starttaskid", "payload": {}}], "payload.taskId must be a string, got nothing"),
    ([{"type": "starttaskid", "payload": {"taskId": 123}}], "payload.taskId must be a string, got int"),
    ([{"type": "starttaskid", "payload": {"taskId": None}}], "payload.taskId must be a string"),
    ([{"type": "starttaskid", "payload": {"taskId": [A1]}}], "payload.taskId must be a string"),
    ([{"type": "starttasktag", "payload": {"tag": ["a"]}}], "payload.tag must be a string"),
    ([{"type": "starttasktag", "payload": {"tag": ""}}], "payload.tag must not be empty"),
    ([{"type": "starttaskcustomproperty", "payload": {"customPropertyName": "taskGroup"}}],
     "payload.customPropertyValue must be a string"),
    ([{"type": "starttaskcustomproperty",
       "payload": {"customPropertyName": 1, "customPropertyValue": "x"}}],
     "payload.customPropertyName must be a string"),
    ([{"type": "keyvaluestore", "payload": {"namespace": "n", "key": "k"}}], "payload.value is missing"),
    ([{"type": "keyvaluestore", "payload": {"key": "k", "value": "v"}}], "payload.namespace is missing"),
    ([{"type": "keyvaluestore", "payload": {"namespace": "n", "key": "k", "value": "v", "ttl": "soon"}}],
     "ttl"),
    ([{"type": "keyvaluestore", "payload": {"namespace": "n", "key": "k", "value": {"a": 1}}}], "value"),
    ([{"type": "keyvaluestore", "payload": {"namespace": "n", "key": "", "value": "v"}}], "key"),
]


@pytest.mark.parametrize("body, says", BAD_BODIES, ids=[s for _b, s in BAD_BODIES])
def test_malformed_body_is_a_400_naming_the_problem(open_valet, qlog, body, says) -> None:
    r = requests.put(f"{open_valet.url}/v4/reloadtask/{A1}/start", data=json.dumps(body),
                     headers={"Content-Type": "application/json"}, timeout=10)
    assert says in assert_error(r, 400)["message"]
    assert qlog.new() == []


def test_the_item_number_is_named(open_valet, qlog) -> None:
    body = [kv("k", "v"), {"type": "starttaskid", "payload": {"taskId": 7}}]
    assert "item 2 (starttaskid)" in assert_error(start(open_valet, "-", body), 400)["message"]


def test_nothing_is_stored_when_a_later_item_is_malformed(open_valet, qlog) -> None:
    body = [kv("early", "v", namespace="bad-request-ns"), {"type": "starttasktag", "payload": {}}]
    assert_error(start(open_valet, A1, body), 400)
    r = requests.get(f"{open_valet.url}/v4/keylist/bad-request-ns", timeout=5)
    assert r.json()["keys"] == []
    assert qlog.new() == []


def test_body_that_is_not_json(open_valet, qlog) -> None:
    r = requests.put(f"{open_valet.url}/v4/reloadtask/{A1}/start", data="[{",
                     headers={"Content-Type": "application/json"}, timeout=10)
    assert "not valid JSON" in assert_error(r, 400)["message"]


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_all_task_ids_must_exist_must_be_a_boolean(open_valet, qlog, value) -> None:
    r = start(open_valet, A1, [], f"?allTaskIdsMustExist={value}")
    assert "allTaskIdsMustExist" in assert_error(r, 400)["message"]
    assert qlog.new() == []


def test_a_tag_too_long_for_any_repository_url_is_a_400(open_valet, qlog) -> None:
    r = start(open_valet, "-", [{"type": "starttasktag", "payload": {"tag": "t" * 9000}}])
    assert "URL" in assert_error(r, 400)["message"]
    assert qlog.new() == []
