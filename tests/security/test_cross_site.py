"""Cross-site requests (issue 12): a page on another site must not store keys or start tasks
through a Sense user's browser. Browsers mark such requests with `Origin` and `Sec-Fetch-Site`
(Fetch standard, https://fetch.spec.whatwg.org/#origin-header and W3C Fetch Metadata); clients
that send neither, like Qlik's REST connector, keep working. Against a real Valet process."""
from __future__ import annotations

import pytest
import requests
from werkzeug.test import Client

from demo.processes import Valet
from helpers import assert_error
from server import config as config_module
from server.app import create_app

LISTED = "https://sense.example.com"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def valet(tmp_path_factory):
    with Valet(tmp_path_factory.mktemp("cors"), valet={"cors": {"allowedOrigins": [LISTED]}}) as v:
        yield v


def _store(valet, key: str, headers: dict) -> requests.Response:
    return requests.post(f"{valet.url}/v4/keyvalues/cors", json={"key": key, "value": "v"},
                         headers=headers, timeout=5)


def _stored(valet, key: str) -> bool:
    r = requests.get(f"{valet.url}/v4/keyvalues/cors/keyexists", params={"key": key}, timeout=5)
    return r.json()["keyExists"]


@pytest.mark.parametrize("headers", [
    {"Origin": EVIL},
    {"Origin": "null"},  # sandboxed frames and file:// pages
    {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_a_cross_site_request_is_refused_and_changes_nothing(valet, headers):
    key = f"refused-{sorted(headers.items())}"
    assert "cross-site" in assert_error(_store(valet, key, headers), 403)["message"]
    assert not _stored(valet, key)
    r = requests.put(f"{valet.url}/v4/reloadtask/-/start", json=[], headers=headers, timeout=5)
    assert r.status_code in (403, 404)  # no task endpoint here, and never a start


def test_a_cross_site_text_plain_form_without_a_content_type_is_refused(valet):
    # A page's fetch() with a Blob body sends no Content-Type, which Valet reads as JSON.
    r = requests.post(f"{valet.url}/v4/keyvalues/cors", data=b'{"key": "blob", "value": "v"}',
                      headers={"Origin": EVIL}, timeout=5)
    assert_error(r, 403)
    assert not _stored(valet, "blob")


@pytest.mark.parametrize("headers", [
    {},  # the REST connector, curl, schedulers
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed into the address bar
])
def test_clients_without_a_foreign_origin_work_as_before(valet, headers):
    key = f"ok-{sorted(headers.items())}"
    r = _store(valet, key, headers)
    assert r.status_code == 201 and "Access-Control-Allow-Origin" not in r.headers
    assert _stored(valet, key)


def test_valet_s_own_pages_may_call_it(valet):
    # The API browser at /docs sends its own origin.
    r = _store(valet, "own", {"Origin": valet.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 201


def test_a_listed_origin_gets_cors_headers(valet):
    r = _store(valet, "listed", {"Origin": LISTED, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 201
    assert r.headers["Access-Control-Allow-Origin"] == LISTED and "Origin" in r.headers["Vary"]


def test_a_preflight_from_a_listed_origin_is_answered(valet):
    r = requests.options(f"{valet.url}/v4/keyvalues/cors", timeout=5, headers={
        "Origin": LISTED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-api-key"})
    assert r.status_code in (200, 204)
    assert r.headers["Access-Control-Allow-Origin"] == LISTED
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-api-key", "authorization"} <= allowed
    assert "POST" in r.headers["Access-Control-Allow-Methods"]


def test_a_preflight_from_another_origin_is_refused(valet):
    r = requests.options(f"{valet.url}/v4/keyvalues/cors", timeout=5, headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert_error(r, 403)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_a_preflight_needs_no_api_key(tmp_path):
    # Browsers send preflights without credentials; the request that follows carries the key.
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides({
        "Valet.apiKeys": [{"name": "web", "key": "web-5b3d1f9a7c2e4b6d"}],
        "Valet.cors.allowedOrigins": [LISTED]})
    client = Client(create_app(config))
    r = client.options("/v4/keyvalues/ns", headers={"Origin": LISTED,
                                                     "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    r = client.post("/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                    headers={"Origin": LISTED, "X-API-Key": "web-5b3d1f9a7c2e4b6d"})
    assert r.status_code == 201 and r.headers["Access-Control-Allow-Origin"] == LISTED
    assert client.post("/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                       headers={"Origin": LISTED}).status_code == 401
