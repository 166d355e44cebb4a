"""Rate limits (issue 12): off by default; per client address and per API key when configured;
over the limit a 429 in the JSON error shape with Retry-After (RFC 6585 §4), on the fast path
and Flask alike; nothing is stored by a refused request."""
from __future__ import annotations

import pytest
import requests
from werkzeug.test import Client

from demo.processes import Valet
from helpers import assert_error
from server import config as config_module
from server.app import create_app


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with Valet(tmp_path_factory.mktemp("rate"), valet={"rateLimit": {"perClient": "6/minute"}}) as v:
        yield v


def test_a_client_over_its_limit_gets_429_with_retry_after(limited):
    base = f"{limited.url}/v4/keyvalues/rate"
    answers = [requests.post(base, json={"key": f"k{n}", "value": "v"}, timeout=5) for n in range(3)]
    answers += [requests.get(base, params={"key": "k0"}, timeout=5) for _ in range(3)]
    assert [r.status_code for r in answers] == [201] * 3 + [200] * 3
    for call in (lambda: requests.post(base, json={"key": "over", "value": "v"}, timeout=5),  # fast path
                 lambda: requests.get(f"{limited.url}/v4/keylist/rate", timeout=5)):          # Flask
        r = call()
        assert "6 per 1 minute" in assert_error(r, 429)["message"]
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    # ping and /health are not counted: monitoring keeps working
    assert requests.get(f"{limited.url}/v4/butlerping", timeout=5).status_code == 200
    assert requests.get(f"{limited.url}/health", timeout=5).status_code == 200


def _app(tmp_path, **overrides):
    config = config_module.load(env={"VALET_DATA_DIR": str(tmp_path)}).with_overrides(overrides)
    return Client(create_app(config))


def test_each_key_has_its_own_budget(tmp_path):
    client = _app(tmp_path, **{"Valet.apiKeys": [{"name": "a", "key": "key-a-8f2c4e6a0b1d3f5e"},
                                                  {"name": "b", "key": "key-b-1a3c5e7f9b2d4f6a"}],
                               "Valet.rateLimit.perKey": 3})
    a, b = {"X-API-Key": "key-a-8f2c4e6a0b1d3f5e"}, {"X-API-Key": "key-b-1a3c5e7f9b2d4f6a"}
    assert [client.post("/v4/keyvalues/ns", json={"key": f"a{n}", "value": "v"}, headers=a).status_code
            for n in range(4)] == [201, 201, 201, 429]
    r = client.get("/v4/keyvalues/ns?key=a3", headers=b)
    assert r.status_code == 400  # b is not limited by a's use, and a's fourth write was not stored
    assert "key 'a'" in client.get("/v4/keylist/ns", headers=a).json["message"]


def test_limits_are_off_by_default(tmp_path):
    client = _app(tmp_path)
    assert all(client.get("/v4/keyvalues/ns?key=k&default=d").status_code == 200 for _ in range(200))


@pytest.mark.parametrize("value, shown", [(100, "100 per 1 minute"), ("100", "100 per 1 minute"),
                                          ("10/second", "10 per 1 second")])
def test_rate_notation(tmp_path, value, shown):
    config = config_module.load(env={}).with_overrides({"Valet.rateLimit.perClient": value})
    assert str(config["Valet.rateLimit.perClient"]) == shown


@pytest.mark.parametrize("value", ["soon", True, -5, "1/fortnight"])
def test_a_wrong_rate_names_the_key(value):
    with pytest.raises(config_module.ConfigError, match="Valet.rateLimit.perClient"):
        config_module.load(env={}).with_overrides({"Valet.rateLimit.perClient": value})
