"""Filter building of the repository client, without a network.

Escaping as measured on a live Sense (qlik-facts §6: `\\'` for a quote, `\\\\` for a backslash;
the OData `''` is rejected). Checked against the simulator's own parser: what the client builds
parses back to exactly the value it was given."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demo.sense.filters import parse
from server.qrs import (QrsSettings, _percent_encoded, custom_property_term, has_custom_property,
                        has_tag, id_term, is_guid, quote_literal, tag_term)

TRICKY = ["plain", "O'Brien", "R&D #1", "x' or name sw '", "back\\slash", "trailing\\",
          "\\'", "100% ?/#=+,", "Ünïcödé ✓", "", "''", "a)b(c", " spaced "]


@pytest.mark.parametrize("value,literal", [
    ("plain", "'plain'"),
    ("O'Brien", r"'O\'Brien'"),
    ("back\\slash", r"'back\\slash'"),
    ("trailing\\", r"'trailing\\'"),
    ("\\'", r"'\\\''"),
    ("R&D #1", "'R&D #1'"),  # & and # are left to URL encoding
])
def test_quote_literal(value, literal) -> None:
    assert quote_literal(value) == literal


@pytest.mark.parametrize("value", TRICKY)
def test_every_value_round_trips_through_senses_grammar(value) -> None:
    node = parse(tag_term(value))
    assert (node.path, node.op, node.value, node.quoted) == (("tags", "name"), "eq", value, True)


def test_custom_property_term_is_one_group_of_two_comparisons() -> None:
    node = parse(custom_property_term("owner's group", "x' or name sw '"))
    assert node.op == "and"
    assert [(p.path[-1], p.value) for p in node.parts] == [("name", "owner's group"),
                                                          ("value", "x' or name sw '")]


@pytest.mark.parametrize("bad", ["abc123", "fb0f317d-da91-4b86-aafa-0174ae1e8c8",
                                 "x or id eq 7552d9fc-d1bb-4975-9a38-18357de531ea", "", None, 12])
def test_id_term_accepts_only_guids(bad) -> None:
    assert not is_guid(bad)
    with pytest.raises(ValueError):
        id_term(bad)


def test_id_term_is_bare_and_lower_case() -> None:
    assert id_term("E3B27F50-B1C0-4879-88FC-C7CDD9C1CF3E") == "id eq e3b27f50-b1c0-4879-88fc-c7cdd9c1cf3e"


def test_matching_results_back_to_criteria() -> None:
    task = {"tags": [{"name": "startTask1"}],
            "customProperties": [{"value": "tasks1", "definition": {"name": "taskGroup"}},
                                 {"value": "eu", "definition": {"name": "region"}}]}
    assert has_tag(task, "STARTTASK1") and not has_tag(task, "startTask2")
    assert has_custom_property(task, "taskgroup", "TASKS1")
    # Both halves must be on the same custom property, whatever the repository's filter did.
    assert not has_custom_property(task, "taskGroup", "eu")
    assert not has_tag({}, "x") and not has_custom_property({"customProperties": None}, "a", "b")


@pytest.mark.parametrize("settings,url", [
    (QrsSettings("sense.local"), "https://sense.local:4242/qrs/"),
    (QrsSettings("h", 80, use_ssl=False), "http://h:80/qrs/"),
    (QrsSettings("h", 443, authentication="header", virtual_proxy_prefix="/hdr/"),
     "https://h:443/hdr/qrs/"),
    (QrsSettings("h", 4242, virtual_proxy_prefix="hdr"), "https://h:4242/qrs/"),  # certs: no proxy
])
def test_base_url(settings, url) -> None:
    assert settings.base_url == url


def test_settings_from_butler_config_keys() -> None:
    config = {
        "Butler.configQRS.host": "sense", "Butler.configQRS.port": 4242,
        "Butler.configQRS.useSSL": True, "Butler.configQRS.authentication": "certificates",
        "Butler.configQRS.headers.static": [{"name": "X-Qlik-User",
                                             "value": "UserDirectory=Internal;UserId=sa_repository"}],
        "Butler.cert.clientCert": "c.pem", "Butler.cert.clientCertKey": "k.pem",
        "Butler.cert.clientCertCA": "root.pem", "Butler.configQRS.rejectUnauthorized": True,
        "Valet.qrs.virtualProxyPrefix": None, "Valet.qrs.headerAuthName": None,
        "Valet.qrs.headerAuthUser": None, "Valet.qrs.timeoutSeconds": 3.5,
        "Valet.qrs.clientCertKeyPassphrase": None,
    }
    s = QrsSettings.from_config(config)
    assert s.headers == {"X-Qlik-User": "UserDirectory=Internal;UserId=sa_repository"}
    assert (s.client_cert, s.client_key, s.ca_cert, s.timeout) == ("c.pem", "k.pem", "root.pem", 3.5)
    assert s.reject_unauthorized and s.base_url == "https://sense:4242/qrs/"


def test_settings_from_a_butler_config_file(tmp_path) -> None:
    """The same through Valet's config loader, from a file in Butler's layout."""
    from server.config import load

    path = tmp_path / "butler.yaml"
    path.write_text("""
Butler:
  configQRS:
    authentication: certificates
    host: sense.example
    port: 4242
    useSSL: true
    headers:
      static:
        - name: X-Qlik-User
          value: UserDirectory=Internal;UserId=sa_repository
    rejectUnauthorized: false
  cert:
    clientCert: /certs/client.pem
    clientCertKey: /certs/client_key.pem
    clientCertCA: /certs/root.pem
""")
    s = QrsSettings.from_config(load(str(path), env={}))
    assert (s.host, s.port, s.client_cert, s.reject_unauthorized) == \
        ("sense.example", 4242, "/certs/client.pem", False)
    assert s.headers["X-Qlik-User"] == "UserDirectory=Internal;UserId=sa_repository"


@given(st.text() | st.sampled_from([id_term("E3B27F50-b1c0-4879-88fc-c7cdd9c1cf3e"), *map(tag_term, TRICKY)]))
def test_terms_are_percent_encoded_as_quote_encodes_them(term: str) -> None:
    """Every character but the unreserved ones, as `quote(safe="")`: the lookup URL's filter
    is the encoded terms joined by the encoded `or`."""
    assert _percent_encoded(term) == quote(term, safe="")
