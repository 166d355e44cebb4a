"""The key-value API over real HTTP against a real Valet process (SPEC §2 table and
the Butler quirks it names)."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import requests

from helpers import assert_error


@pytest.fixture(scope="module")
def valet(database_valet):
    """The whole suite runs against SQLite and against PostgreSQL."""
    return database_valet


def segment(part: str) -> str:
    # HTTP clients resolve "." and ".." path segments (RFC 3986 §5.2.4), so a key that is
    # only dots must travel percent-encoded.
    return part.replace(".", "%2E") if set(part) == {"."} else quote(part, safe="")


def url(valet, *parts: str) -> str:
    return valet.url + "/v4/" + "/".join(segment(p) for p in parts)


def put(valet, ns: str, key: str, value, ttl=None) -> requests.Response:
    body = {"key": key, "value": value}
    if ttl is not None:
        body["ttl"] = ttl
    return requests.post(url(valet, "keyvalues", ns), json=body)


def put_utf8(valet, ns: str, key: str, value: str) -> requests.Response:
    """POST with the body in raw UTF-8 (requests' json= escapes non-ASCII as \\uXXXX)."""
    body = json.dumps({"key": key, "value": value}, ensure_ascii=False).encode()
    return requests.post(url(valet, "keyvalues", ns), data=body, headers=JSON)


def get(valet, ns: str, key: str, **params) -> requests.Response:
    return requests.get(url(valet, "keyvalues", ns), params={"key": key, **params})


def exists(valet, ns: str, key: str) -> bool:
    r = requests.get(url(valet, "keyvalues", ns, "keyexists"), params={"key": key})
    assert r.status_code == 200, r.text
    return r.json()["keyExists"]


def keys(valet, ns: str) -> list[str]:
    r = requests.get(url(valet, "keylist", ns))
    assert r.status_code == 200, r.text
    return sorted(k["key"] for k in r.json()["keys"])


JSON = {"Content-Type": "application/json"}


# --- every row of the SPEC §2 key-value table -------------------------------------------


def test_post_answers_201_and_echoes(valet, ns):
    r = put(valet, ns, "k1", "v1", 60000)
    assert r.status_code == 201
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"namespace": ns, "key": "k1", "value": "v1", "ttl": 60000}


def test_get_answers_namespace_key_value(valet, ns):
    put(valet, ns, "k1", "v1")
    r = get(valet, ns, "k1")
    assert r.status_code == 200
    assert r.json() == {"namespace": ns, "key": "k1", "value": "v1"}


def test_post_overwrites(valet, ns):
    put(valet, ns, "k", "old")
    assert put(valet, ns, "k", "new").status_code == 201
    assert get(valet, ns, "k").json()["value"] == "new"
    assert keys(valet, ns) == ["k"]


def test_namespaces_lists_namespaces_with_keys(valet, ns):
    put(valet, ns, "k", "v")
    r = requests.get(valet.url + "/v4/keyvaluesnamespaces")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert ns in r.json() and all(isinstance(n, str) for n in r.json())


def test_keylist_shape(valet, ns):
    put(valet, ns, "b", "1")
    put(valet, ns, "a", "2")
    r = requests.get(url(valet, "keylist", ns))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"namespace": ns, "keys": [{"key": "a"}, {"key": "b"}]}


def test_keylist_of_unknown_namespace_is_empty(valet, ns):
    assert requests.get(url(valet, "keylist", ns)).json() == {"namespace": ns, "keys": []}


def test_keyexists_shapes(valet, ns):
    put(valet, ns, "k", "v")
    r = requests.get(url(valet, "keyvalues", ns, "keyexists"), params={"key": "k"})
    assert r.json() == {"keyExists": True, "keyValue": {"namespace": ns, "key": "k", "value": "v"}}
    r = requests.get(url(valet, "keyvalues", ns, "keyexists"), params={"key": "other"})
    assert r.status_code == 200 and r.json() == {"keyExists": False, "keyValue": {}}


def test_keyexists_on_unknown_namespace_is_200_false(valet, ns):
    r = requests.get(url(valet, "keyvalues", ns + "-never", "keyexists"), params={"key": "k"})
    assert r.status_code == 200 and r.json() == {"keyExists": False, "keyValue": {}}


def test_get_unknown_key_or_namespace_is_400(valet, ns):
    put(valet, ns, "k", "v")
    assert "does not exist" in assert_error(get(valet, ns, "nope"), 400)["message"]
    assert_error(get(valet, ns + "-never", "k"), 400)


@pytest.mark.parametrize("default", ["fallback", "", "with space & ampersand"])
def test_get_with_default_answers_200(valet, ns, default):
    r = get(valet, ns, "absent", default=default)
    assert r.status_code == 200
    assert r.json() == {"namespace": ns, "key": "absent", "value": default}


def test_default_does_not_hide_a_stored_value(valet, ns):
    put(valet, ns, "k", "stored")
    assert get(valet, ns, "k", default="d").json()["value"] == "stored"


def test_delete_key_204_then_gone(valet, ns):
    put(valet, ns, "k", "v")
    put(valet, ns, "other", "v")
    r = requests.delete(url(valet, "keyvalues", ns, "k"))
    assert r.status_code == 204 and r.content == b""
    assert not exists(valet, ns, "k") and exists(valet, ns, "other")


def test_delete_unknown_key_is_400(valet, ns):
    put(valet, ns, "k", "v")
    assert_error(requests.delete(url(valet, "keyvalues", ns, "nope")), 400)


def test_delete_namespace_removes_all_its_keys(valet, ns):
    for k in ("a", "b", "c"):
        put(valet, ns, k, "v")
    r = requests.delete(url(valet, "keyvalues", ns))
    assert r.status_code == 204 and r.content == b""
    assert keys(valet, ns) == []
    assert ns not in requests.get(valet.url + "/v4/keyvaluesnamespaces").json()


def test_delete_unknown_namespace_is_400(valet, ns):
    assert_error(requests.delete(url(valet, "keyvalues", ns)), 400)


# --- TTL ------------------------------------------------------------------------------

@pytest.mark.parametrize("ttl, stored", [
    (5000, 5000), ("5000", 5000), ("", 0), (0, 0), (-5, 0), (1500.9, 1500), ("1500.9", 1500),
    (" 42 ", 42),
])
def test_ttl_forms(valet, ns, ttl, stored):
    r = put(valet, ns, "k", "v", ttl)
    assert r.status_code == 201, r.text
    assert r.json()["ttl"] == stored


def test_ttl_absent_means_no_expiry(valet, ns):
    r = requests.post(url(valet, "keyvalues", ns), json={"key": "k", "value": "v"})
    assert r.status_code == 201 and r.json()["ttl"] == 0


@pytest.mark.parametrize("ttl", ["abc", True, None, [], {}, "1e999", "12ms"])
def test_bad_ttl_is_400_naming_the_field(valet, ns, ttl):
    r = requests.post(url(valet, "keyvalues", ns), json={"key": "k", "value": "v", "ttl": ttl})
    assert "ttl" in assert_error(r, 400)["message"]
    assert not exists(valet, ns, "k")


def test_key_expires_after_its_ttl(valet, ns):
    put(valet, ns, "short", "v", 700)
    put(valet, ns, "long", "v")
    assert exists(valet, ns, "short")
    time.sleep(1.0)
    assert not exists(valet, ns, "short")
    assert_error(get(valet, ns, "short"), 400)
    assert keys(valet, ns) == ["long"]


def test_a_new_write_restarts_the_clock(valet, ns):
    put(valet, ns, "k", "v1", 1000)
    time.sleep(0.6)
    put(valet, ns, "k", "v2", 1000)  # now expires 1.0 s from here, not from the first write
    time.sleep(0.6)  # 1.2 s after the first write
    assert get(valet, ns, "k").json()["value"] == "v2"
    time.sleep(0.7)
    assert not exists(valet, ns, "k")


def test_a_write_without_ttl_removes_the_expiry(valet, ns):
    put(valet, ns, "k", "v1", 500)
    put(valet, ns, "k", "v2")
    time.sleep(0.8)
    assert get(valet, ns, "k").json()["value"] == "v2"


def test_expired_namespace_is_not_listed(valet, ns):
    put(valet, ns, "k", "v", 300)
    time.sleep(0.6)
    assert ns not in requests.get(valet.url + "/v4/keyvaluesnamespaces").json()


# --- values ----------------------------------------------------------------------------

@pytest.mark.parametrize("value, stored", [
    ("text", "text"), (42, "42"), (4.5, "4.5"), (1.0, "1"), (-0.25, "-0.25"), (True, "true"),
    (False, "false"), (None, ""), ("", ""), ("line\nbreak\ttab", "line\nbreak\ttab"),
])
def test_value_forms(valet, ns, value, stored):
    assert put(valet, ns, "k", value).json()["value"] == stored
    assert get(valet, ns, "k").json()["value"] == stored


# --- method override (Qlik's REST connector sends only GET and POST) --------------------

def test_post_with_override_delete_deletes_a_key(valet, ns):
    put(valet, ns, "k", "v")
    r = requests.post(url(valet, "keyvalues", ns, "k"), headers={"X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204
    assert not exists(valet, ns, "k")


def test_post_with_override_delete_deletes_a_namespace(valet, ns):
    put(valet, ns, "k", "v")
    r = requests.post(url(valet, "keyvalues", ns), headers={"X-HTTP-Method-Override": "delete"})
    assert r.status_code == 204
    assert keys(valet, ns) == []


@pytest.mark.parametrize("override", ["GET", "FOO", "POST", ""])
def test_unknown_override_is_400(valet, ns, override):
    put(valet, ns, "k", "v")
    r = requests.post(url(valet, "keyvalues", ns, "k"), headers={"X-HTTP-Method-Override": override})
    assert "X-HTTP-Method-Override" in assert_error(r, 400)["message"]
    assert exists(valet, ns, "k")


def test_override_on_get_is_ignored(valet, ns):
    put(valet, ns, "k", "v")
    r = requests.get(url(valet, "keyvalues", ns), params={"key": "k"},
                     headers={"X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 200 and exists(valet, ns, "k")


# --- Unicode and URL encoding ------------------------------------------------------------

ODD_NAMES = ["with space", "a/b", "c#d", "e?f", "100%", "it's \"quoted\"", "🚀 emoji", "a+b",
             "åäö ÅÄÖ", "semi;colon", "x&y=z", "back\\slash", "..", "."]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_namespaces_and_keys_round_trip(valet, name):
    ns = f"ns {name} {time.monotonic_ns()}"
    r = put(valet, ns, name, f"value of {name}")
    assert r.status_code == 201, r.text
    assert r.json()["namespace"] == ns and r.json()["key"] == name
    assert get(valet, ns, name).json() == {"namespace": ns, "key": name, "value": f"value of {name}"}
    assert keys(valet, ns) == [name]
    assert ns in requests.get(valet.url + "/v4/keyvaluesnamespaces").json()
    assert requests.delete(url(valet, "keyvalues", ns, name)).status_code == 204
    assert keys(valet, ns) == []


def test_values_with_any_characters_round_trip(valet, ns):
    value = 'q"uo\\te\n\r\t \u0001 ünïcødé 🚀 {"json": [1]} <tag> \' \u2028'
    put(valet, ns, "k", value)
    assert get(valet, ns, "k").json()["value"] == value


# --- limits ------------------------------------------------------------------------------

def test_limits_on_lengths(valet, ns):
    assert put(valet, "n" * 255, "k", "v").status_code == 201
    assert "255" in assert_error(put(valet, "n" * 256, "k", "v"), 400)["message"]
    assert put(valet, ns, "k" * 1024, "v").status_code == 201
    assert "1024" in assert_error(put(valet, ns, "k" * 1025, "v"), 400)["message"]
    assert put_utf8(valet, ns, "big", "é" * (512 * 1024)).status_code == 201  # 1 MiB of UTF-8
    assert_error(put_utf8(valet, ns, "bigger", "é" * (512 * 1024) + "x"), 400)
    assert not exists(valet, ns, "bigger")


def test_body_over_the_limit_is_413(valet, ns):
    r = put(valet, ns, "k", "v" * (3 * 1024 * 1024))
    assert "limit" in assert_error(r, 413)["message"]
    assert not exists(valet, ns, "k")


def test_max_keys_per_namespace(start_valet, ns):
    valet = start_valet(butler={"keyValueStore": {"enable": True, "maxKeysPerNamespace": 3}})
    assert [put(valet, ns, f"k{i}", "v").status_code for i in range(3)] == [201] * 3
    body = assert_error(put(valet, ns, "k3", "v"), 409)
    assert "maxKeysPerNamespace" in body["message"]
    assert put(valet, ns, "k1", "overwrite").status_code == 201
    assert put(valet, "another namespace", "k9", "v").status_code == 201
    requests.delete(url(valet, "keyvalues", ns, "k0"))
    assert put(valet, ns, "k3", "v").status_code == 201
    assert keys(valet, ns) == ["k1", "k2", "k3"]


def test_expired_keys_do_not_count_towards_the_limit(start_valet, ns):
    valet = start_valet(butler={"keyValueStore": {"maxKeysPerNamespace": 2}})
    put(valet, ns, "a", "v", 300)
    put(valet, ns, "b", "v", 300)
    assert put(valet, ns, "c", "v").status_code == 409
    time.sleep(0.5)
    assert put(valet, ns, "c", "v").status_code == 201
    assert put(valet, ns, "d", "v").status_code == 201


# --- bad input: clear error, nothing changed, server alive ------------------------------

BAD_REQUESTS = [
    # (name, method, path under /v4, headers, body, status)
    ("malformed JSON", "POST", "keyvalues/NS", JSON, b"{not json", 400),
    ("truncated JSON", "POST", "keyvalues/NS", JSON, b'{"key": "k", "value": ', 400),
    ("JSON array body", "POST", "keyvalues/NS", JSON, b'[{"key": "k", "value": "v"}]', 400),
    ("JSON string body", "POST", "keyvalues/NS", JSON, b'"k"', 400),
    ("empty body", "POST", "keyvalues/NS", JSON, b"", 400),
    ("not UTF-8", "POST", "keyvalues/NS", JSON, b'{"key": "\xff", "value": "v"}', 400),
    ("wrong content type", "POST", "keyvalues/NS", {"Content-Type": "text/plain"},
     b'{"key": "k", "value": "v"}', 415),
    ("form body", "POST", "keyvalues/NS", {"Content-Type": "application/x-www-form-urlencoded"},
     b"key=k&value=v", 415),
    ("missing key", "POST", "keyvalues/NS", JSON, b'{"value": "v"}', 400),
    ("missing value", "POST", "keyvalues/NS", JSON, b'{"key": "k"}', 400),
    ("empty key", "POST", "keyvalues/NS", JSON, b'{"key": "", "value": "v"}', 400),
    ("number key", "POST", "keyvalues/NS", JSON, b'{"key": 42, "value": "v"}', 400),
    ("null key", "POST", "keyvalues/NS", JSON, b'{"key": null, "value": "v"}', 400),
    ("object value", "POST", "keyvalues/NS", JSON, b'{"key": "k", "value": {"a": 1}}', 400),
    ("array value", "POST", "keyvalues/NS", JSON, b'{"key": "k", "value": [1]}', 400),
    ("NUL in value", "POST", "keyvalues/NS", JSON, b'{"key": "k", "value": "a\\u0000b"}', 400),
    ("lone surrogate key", "POST", "keyvalues/NS", JSON, b'{"key": "\\ud800", "value": "v"}', 400),
    ("bad ttl", "POST", "keyvalues/NS", JSON, b'{"key": "k", "value": "v", "ttl": "soon"}', 400),
    ("unknown override", "POST", "keyvalues/NS/existing", {"X-HTTP-Method-Override": "TRACE"}, b"", 400),
    ("get without key", "GET", "keyvalues/NS", {}, b"", 400),
    ("get with empty key", "GET", "keyvalues/NS?key=", {}, b"", 400),
    ("get with repeated key", "GET", "keyvalues/NS?key=existing&key=other", {}, b"", 400),
    ("keyexists without key", "GET", "keyvalues/NS/keyexists", {}, b"", 400),
    ("bad percent-encoding", "GET", "keylist/%FF%FE", {}, b"", 400),
    ("unknown path", "GET", "nothing/here", {}, b"", 404),
    ("unknown version", "GET", "../v3/keyvaluesnamespaces", {}, b"", 404),
    ("PUT on a namespace", "PUT", "keyvalues/NS", JSON, b'{"key": "k", "value": "v"}', 405),
    ("PATCH override on a namespace", "POST", "keyvalues/NS", {"X-HTTP-Method-Override": "PATCH"},
     b"", 405),
    ("DELETE on keylist", "DELETE", "keylist/NS", {}, b"", 405),
]


@pytest.mark.parametrize("name, method, path, headers, body, status", BAD_REQUESTS,
                         ids=[c[0] for c in BAD_REQUESTS])
def test_bad_input(valet, ns, name, method, path, headers, body, status):
    put(valet, ns, "existing", "keep me", 60000)
    before = (keys(valet, ns), get(valet, ns, "existing").json())
    r = requests.request(method, valet.url + "/v4/" + path.replace("NS", quote(ns)),
                         headers=headers, data=body)
    assert_error(r, status)
    assert (keys(valet, ns), get(valet, ns, "existing").json()) == before
    assert requests.get(valet.url + "/v4/butlerping").status_code == 200


@pytest.mark.parametrize("path", ["/", "/v4", "/v4/", "/v4/keyvalues", "/v4/keyvalues/",
                                  "/favicon.ico", "/v4/keylist/"])
def test_unknown_urls_answer_json_not_html(valet, path):
    assert_error(requests.get(valet.url + path), 404)


# --- meta -------------------------------------------------------------------------------

def test_butlerping(valet):
    r = requests.get(valet.url + "/v4/butlerping")
    assert r.status_code == 200
    assert r.json()["response"] == "Butler reporting for duty"
    assert r.json()["butlerVersion"]


def test_health(valet, request):
    backend = request.node.callspec.params["database_valet"]
    r = requests.get(valet.url + "/health")
    assert r.status_code == 200 and r.json()["checks"][0] == {"name": "database", "required": True, "status": "up", "detail": backend}


def test_openapi_document_describes_every_kv_path(valet):
    spec = requests.get(valet.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, method in [("/v4/keyvaluesnamespaces", "get"), ("/v4/keyvalues/{namespace}", "get"),
                         ("/v4/keyvalues/{namespace}", "post"), ("/v4/keyvalues/{namespace}", "delete"),
                         ("/v4/keyvalues/{namespace}/keyexists", "get"),
                         ("/v4/keyvalues/{namespace}/{key}", "delete"),
                         ("/v4/keylist/{namespace}", "get"), ("/v4/butlerping", "get"),
                         ("/health", "get")]:
        assert method in paths[path], (path, method)
    get_params = {p["name"]: p["required"] for p in paths["/v4/keyvalues/{namespace}"]["get"]["parameters"]
                  if p["in"] == "query"}
    assert get_params == {"key": True, "default": False}
    body = paths["/v4/keyvalues/{namespace}"]["post"]["requestBody"]
    assert "application/json" in body["content"]


def test_browsable_ui_served_without_cdn(valet):
    page = requests.get(valet.url + "/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert 'src="http' not in page.text and 'href="http' not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        r = requests.get(f"{valet.url}/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 10_000
