"""The two calls load scripts make most, read a key and store a key, answered in plain
WSGI ahead of Flask.

On the 2-core machine of the README's benchmarks, Flask's per-request machinery alone
holds a view that only returns a constant to about 1,400 requests/s under waitress, below
the store's throughput targets. So `GET` and `POST /v4/keyvalues/<namespace>` are answered
here, by the very endpoint functions the Flask views call (server.api.kv.FAST), on the route
the gate matched with Flask's URL map (server.api.gate). Everything else goes on to Flask,
which also generates the OpenAPI document for both.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from server.api import kv
from server.api.plain import PlainRequest, run, start_json
from server.services import Services


class KvFastPath:
    """WSGI middleware: answers the hot key-value calls, passes everything else to `app`."""

    def __init__(self, app: Callable, services: Services) -> None:
        self.app = app
        self.services = services
        self.max_body_bytes = services.config["Valet.limits.requestBodyBytes"]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        endpoint, args = environ.get("valet.route", (None, None))
        function = kv.FAST.get(endpoint)
        if function is None or environ["REQUEST_METHOD"] == "HEAD":
            return self.app(environ, start_response)
        request = PlainRequest(environ, args, self.max_body_bytes)
        status, obj = run(function, self.services, request)
        if status >= 400:
            environ["valet.error"] = obj["message"]  # for the request's log line
        return start_json(start_response, status, obj)
