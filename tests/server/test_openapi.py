"""The OpenAPI document describes what Valet really answers: its error shape
{statusCode, error, message}, every status an operation was seen to answer, and examples."""
from __future__ import annotations

import pytest
import requests

ERROR_FIELDS = {"statusCode", "error", "message"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from demo.processes import Valet
    server = Valet(tmp_path_factory.mktemp("small"), butler={"keyValueStore": {"maxKeysPerNamespace": 1}},
                   valet={"limits": {"requestBodyBytes": 1024}}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def doc(small) -> dict:
    return requests.get(f"{small.url}/openapi.json", timeout=5).json()


def test_the_error_schema_is_valets_own(doc):
    assert set(doc["components"]["schemas"]["Error"]["properties"]) == ERROR_FIELDS


def test_the_default_error_response_is_the_error_schema(doc):
    default = doc["components"]["responses"]["DEFAULT_ERROR"]
    assert default["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def _operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def test_every_documented_error_uses_the_error_schema_with_an_example_in_its_shape(doc):
    for method, path, operation in _operations(doc):
        if path == "/health":
            continue  # its 503 is a health report, not an error
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path)
                assert set(content["example"]) == ERROR_FIELDS
                assert content["example"]["statusCode"] == int(status)


# (method, path in the document, request) -> the status Valet answers, which must be documented.
SEEN = [
    ("get", "/v4/keyvalues/{namespace}", dict(method="GET", path="/v4/keyvalues/ns?key=nope"), 400),
    ("get", "/v4/keyvalues/{namespace}/keyexists", dict(method="GET", path="/v4/keyvalues/ns/keyexists"), 400),
    ("post", "/v4/keyvalues/{namespace}", dict(method="POST", path="/v4/keyvalues/ns", json={"key": "k"}), 400),
    ("post", "/v4/keyvalues/{namespace}", dict(method="POST", path="/v4/keyvalues/ns", data="x" * 2000,
                                               headers={"Content-Type": "application/json"}), 413),
    ("post", "/v4/keyvalues/{namespace}", dict(method="POST", path="/v4/keyvalues/ns", data="k=v",
                                               headers={"Content-Type": "text/plain"}), 415),
    ("post", "/v4/keyvalues/{namespace}", dict(method="POST", path="/v4/keyvalues/full",
                                               json={"key": "second", "value": "v"}), 409),
    ("delete", "/v4/keyvalues/{namespace}/{key}", dict(method="DELETE", path="/v4/keyvalues/ns/nope"), 400),
    ("delete", "/v4/keyvalues/{namespace}", dict(method="DELETE", path="/v4/keyvalues/nope"), 400),
]


@pytest.mark.parametrize("method, doc_path, call, status", SEEN)
def test_each_status_valet_answers_is_documented_for_its_operation(small, doc, method, doc_path, call, status):
    requests.post(f"{small.url}/v4/keyvalues/full", json={"key": "first", "value": "v"}, timeout=5)
    call = dict(call)
    r = requests.request(call.pop("method"), small.url + call.pop("path"), timeout=5, **call)
    assert r.status_code == status, r.text
    assert set(r.json()) == ERROR_FIELDS
    assert str(status) in doc["paths"][doc_path][method]["responses"]


def test_operations_carry_examples(doc):
    get = doc["paths"]["/v4/keyvalues/{namespace}"]["get"]["responses"]["200"]
    assert get["content"]["application/json"]["example"]["key"] == "AnImportantKey"
    assert doc["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["example"]
