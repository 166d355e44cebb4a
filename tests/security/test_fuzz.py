"""Schemathesis against the real server from its own OpenAPI document, bounded for CI (about a
minute): every documented operation, all of schemathesis's checks (two left out, see
fuzz_api.EXCLUDED_CHECKS) and Valet's JSON error shape, stateful links included; no 5xx, no
traceback, no answer slower than 5 s. The long run is `python tests/security/fuzz_api.py`."""
from __future__ import annotations

from security import fuzz_api


def test_schemathesis_finds_nothing_on_waitress():
    outcome = fuzz_api.run(max_examples=3, seed=12)
    assert outcome.held, outcome.report[-6000:] + "\n".join(outcome.server_errors[:10])
    assert outcome.requests >= 300  # the document was really explored
