"""The two calls load scripts make most, read a key and store a key, answered in plain
WSGI ahead of Flask.

On the 2-core machine of the README's benchmarks, Flask's per-request machinery alone
holds a view that only returns a constant to about 1,400 requests/s under waitress, below
the store's throughput targets. So the plainly valid forms of
`GET /v4/keyvalues/<namespace>?key=…` and `POST /v4/keyvalues/<namespace>` are answered
here, by the same rules (server.kv) and with the same bytes as the Flask views in
server.api.kv (tests/server/test_kv_fast.py compares the two on a table of requests).
Anything else, and any such request that is not plainly valid, goes on to Flask, which
owns every other answer, every error but the store's own, and the OpenAPI document.
"""
from __future__ import annotations

import io
import json
import logging
import re
import time
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote

from server import kv
from server.api.access_log import log_request
from server.api.errors import INTERNAL_ERROR, KV_STATUS, error_body

log = logging.getLogger(__name__)
NAMESPACE_PATH = re.compile(r"/v4/keyvalues/([^/]+)")
Answer = tuple[int, dict[str, Any]]


# As Flask's jsonify with sort_keys off: compact, ASCII-escaped, newline-terminated.
_encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
STATUS_LINES = {status: f"{status} {HTTPStatus(status).phrase.upper()}"  # as Werkzeug writes them
                for status in (200, 201, 400, 409, 500, 503)}


def _json(obj: dict[str, Any]) -> bytes:
    return (_encode(obj) + "\n").encode("ascii")


class KvFastPath:
    """WSGI middleware: answers the hot key-value calls, passes everything else to `app`."""

    def __init__(self, app: Callable, store: kv.KeyValueStore, max_body_bytes: int) -> None:
        self.app = app
        self.store = store
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            answer = self._answer(environ)
        except kv.StoreUnavailable as e:
            answer = 503, error_body(503, e.message)
        except Exception:  # as server.api.errors answers it on the Flask side
            log.exception("unhandled error on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            answer = 500, error_body(500, INTERNAL_ERROR)
        if answer is None:
            return self.app(environ, start_response)
        status, obj = answer
        body = _json(obj)
        start_response(STATUS_LINES[status],
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        log_request(environ["REQUEST_METHOD"], environ["PATH_INFO"], status, started,
                    environ.get("REMOTE_ADDR"), obj.get("message") if status >= 400 else None)
        return [body]

    def _answer(self, environ: dict[str, Any]) -> Answer | None:
        match = NAMESPACE_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or "valet.bad_override" in environ:
            return None
        try:
            namespace = unquote(match.group(1), errors="strict")
        except UnicodeDecodeError:
            return None
        method = environ["REQUEST_METHOD"]
        if method == "GET":
            return self._get(namespace, environ)
        if method == "POST":
            return self._post(namespace, environ)
        return None

    def _get(self, namespace: str, environ: dict[str, Any]) -> Answer | None:
        try:  # as Werkzeug reads request.args, but refusing what it would have to repair
            query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8")
            pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        except UnicodeError:
            return None
        keys = [v for name, v in pairs if name == "key"]
        if len(keys) != 1 or keys[0] == "":
            return None
        entry = self.store.get(namespace, keys[0])
        if entry is not None:
            value = entry.value
        else:
            defaults = [v for name, v in pairs if name == "default"]
            if not defaults:
                return None
            value = defaults[0]
        return 200, {"namespace": namespace, "key": keys[0], "value": value}

    def _post(self, namespace: str, environ: dict[str, Any]) -> Answer | None:
        data = self._json_body(environ)
        if not isinstance(data, dict) or not isinstance(data.get("key"), str) or "value" not in data:
            return None
        ttl = data.get("ttl", 0)
        if ttl is None:
            return None
        try:
            value, ttl = kv.normalize_value(data["value"]), kv.parse_ttl(ttl)
        except kv.KvError:
            return None  # Flask words body errors field by field
        try:
            entry = self.store.set(namespace, data["key"], value, ttl)
        except kv.KvError as e:
            status = KV_STATUS[type(e)]
            return status, error_body(status, e.message)
        return 201, {"namespace": namespace, "key": entry.key, "value": entry.value, "ttl": entry.ttl_ms}

    def _json_body(self, environ: dict[str, Any]) -> Any:
        """The JSON body of a plainly sized application/json request, else None. The body
        stays readable for Flask."""
        content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if content_type != "application/json" or not length.isdigit():
            return None
        if not 0 < int(length) <= self.max_body_bytes:
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            return json.loads(body)
        except ValueError:
            return None
