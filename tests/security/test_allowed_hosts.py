"""The Host allow-list against DNS rebinding: a page on evil.example whose name the attacker
re-points at 127.0.0.1 makes the browser send Valet requests with `Host: evil.example:PORT`
and a matching `Origin`, so they look same-origin and pass the cross-site check
(https://en.wikipedia.org/wiki/DNS_rebinding). Refused in the gate, before the fast path and
Flask alike, in the JSON error shape; nothing is stored."""
from __future__ import annotations

import pytest
import requests
from werkzeug.test import Client

from demo.processes import Valet
from helpers import assert_error
from server import config as config_module
from server.app import create_app

REBOUND = {"Host": "evil.example:8080", "Origin": "http://evil.example:8080"}


def _client(tmp_path, **overrides) -> Client:
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides(overrides)
    return Client(create_app(config))


def _calls(client: Client, headers: dict) -> list:
    """A write and a read on the fast path, a read through Flask."""
    return [client.post("/v4/keyvalues/ns", json={"key": "k", "value": "v"}, headers=headers),
            client.get("/v4/keyvalues/ns?key=k", headers=headers),
            client.get("/v4/keylist/ns", headers=headers)]


def _assert_refused(response) -> None:
    assert response.status_code == 400 and response.is_json, response.text
    body = response.get_json()
    assert body["statusCode"] == 400 and "Valet.allowedHosts" in body["message"]


def test_listening_on_loopback_a_rebound_name_is_refused_and_stores_nothing(tmp_path):
    client = _client(tmp_path)  # serverHost 127.0.0.1, allowedHosts unset
    for r in _calls(client, REBOUND):
        _assert_refused(r)
    assert client.get("/v4/keyvalues/ns/keyexists?key=k").get_json()["keyExists"] is False
    assert "evil.example" in client.get("/v4/butlerping", headers=REBOUND).get_json()["message"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8080", "127.0.0.1:8080", "[::1]:8080",
                                  "localhost."])
def test_listening_on_loopback_its_own_names_are_served(tmp_path, host):
    client = _client(tmp_path)
    statuses = [r.status_code for r in _calls(client, {"Host": host})]
    assert statuses == [201, 200, 200]


def test_listening_beyond_loopback_any_name_is_served_by_default(tmp_path):
    client = _client(tmp_path, **{"Butler.restServerConfig.serverHost": "0.0.0.0"})
    assert [r.status_code for r in _calls(client, REBOUND)] == [201, 200, 200]


def test_a_configured_list_is_exactly_the_names_served(tmp_path):
    client = _client(tmp_path, **{"Butler.restServerConfig.serverHost": "0.0.0.0",
                                  "Valet.allowedHosts": ["valet.example.com", "10.1.2.3"]})
    for host in ("valet.example.com", "Valet.Example.com:8443", "10.1.2.3:8080"):
        assert client.get("/v4/keylist/ns", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "localhost", "valet.example.com.evil.example"):
        _assert_refused(client.get("/v4/keylist/ns", headers={"Host": host}))


def test_a_star_allows_any_name(tmp_path):
    client = _client(tmp_path, **{"Valet.allowedHosts": "*"})  # as from VALET_ALLOWED_HOSTS
    assert [r.status_code for r in _calls(client, REBOUND)] == [201, 200, 200]


def test_over_http_a_rebound_request_is_refused(tmp_path):
    with Valet(tmp_path) as valet:
        r = requests.post(f"{valet.url}/v4/keyvalues/ns", json={"key": "k", "value": "v"},
                          headers=REBOUND, timeout=5)
        assert "evil.example" in assert_error(r, 400)["message"]
        r = requests.get(f"{valet.url}/v4/keyvalues/ns/keyexists", params={"key": "k"}, timeout=5)
        assert r.json()["keyExists"] is False
