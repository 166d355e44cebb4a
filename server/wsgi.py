"""WSGI middleware that must act before Flask routes a request."""
from __future__ import annotations

from typing import Any, Callable, Iterable
from urllib.parse import quote

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
OVERRIDABLE = {"PUT", "DELETE", "PATCH"}


class RawPath:
    """Route on the percent-encoded request path, so that `%2F` inside a namespace or key
    stays part of that segment; the `enc` URL converter decodes each segment."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw and not raw.startswith("/"):  # absolute-form request target
            raw = "/" + raw.split("://", 1)[-1].partition("/")[2]
        if raw:
            path = raw.split("?", 1)[0]
        else:  # no raw path from the server: re-encode the decoded one
            path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/")
        environ["PATH_INFO"] = path[len(environ.get("SCRIPT_NAME", "")):] or "/"
        return self.app(environ, start_response)


class MethodOverride:
    """Qlik's REST connector sends only GET and POST: a POST carrying
    `X-HTTP-Method-Override: PUT|DELETE|PATCH` is handled as that method. Any other
    value is remembered in `valet.bad_override`, for the gate (server.api.gate) to refuse
    with a 400."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        wanted = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
        if wanted is not None and environ.get("REQUEST_METHOD") == "POST":
            if wanted.strip().upper() in OVERRIDABLE:
                environ["REQUEST_METHOD"] = wanted.strip().upper()
            else:
                environ["valet.bad_override"] = wanted
        return self.app(environ, start_response)
