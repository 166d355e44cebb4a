"""Schemathesis checks of Valet's own contract, loaded by `fuzz_api.py` (SCHEMATHESIS_HOOKS):
every error answer is JSON in the one error shape (SPEC §2), never HTML or a bare text."""
from __future__ import annotations

import json

import schemathesis


@schemathesis.check
def error_in_json_shape(ctx, response, case) -> None:
    """A 4xx/5xx answer is `{"statusCode", "error", "message"}` with the response's status."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), f"error answered as {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("statusCode") == response.status_code, body
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    assert "Traceback" not in body["message"], body
