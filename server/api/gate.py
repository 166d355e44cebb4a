"""The one gate in front of every route, whichever serves it (the plain-WSGI fast path or
Flask): the Host allow-list, API keys and scopes, the method-override refusal, the access log line and the JSON
500. It routes with Flask's own URL map, so a route's scope is declared once, on its view:

    @blp.route("/v4/…")
    @requires("task:start")
    def view(): …

A view without a declaration needs an `admin` key; `requires(OPEN)` needs none.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable, Iterable, NamedTuple

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from server.api.access_log import log_request
from server.api.allowed_hosts import AllowedHosts, is_loopback
from server.api.cross_site import PREFLIGHT_HEADERS, CrossSite
from server.api.errors import INTERNAL_ERROR, error_body
from server.api.plain import start_json
from server.audit import Caller
from server.rate_limits import RateLimits
from server.config import Config
from server.credentials import ApiKey, find_key

log = logging.getLogger(__name__)
OPEN = "open"  # no key needed
ANY_KEY = "any key"  # any configured key, whatever its scopes
DEFAULT_SCOPE = "admin"
DOCS_ENDPOINTS = ("api-docs.openapi_json", "api-docs.openapi_swagger_ui")
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
CHALLENGE = [("WWW-Authenticate", 'Bearer realm="valet"')]


class Refusal(NamedTuple):
    status: int
    message: str
    headers: list[tuple[str, str]] = []


def requires(scope: str) -> Callable:
    """Declare the scope a view needs (kv:read, kv:write, task:start, admin, OPEN)."""
    def mark(view: Callable) -> Callable:
        view.valet_scope = scope
        return view

    return mark


def caller_of(environ: dict[str, Any]) -> Caller:
    """Who is asking, for the audit: the client address and, with keys on, the key's name."""
    return Caller(environ.get("REMOTE_ADDR") or "unknown", environ.get("valet.key_name"))


def presented_key(environ: dict[str, Any]) -> str | None:
    """The key sent as `Authorization: Bearer …` or `X-API-Key: …`."""
    header = environ.get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    scheme, _, token = (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class Gate:
    """WSGI middleware in front of the fast path and Flask. It stores the matched route in
    `valet.route` (endpoint name, path arguments) for the fast path."""

    def __init__(self, app: WsgiApp, url_map: Map, scopes: dict[str, str],
                 keys: tuple[ApiKey, ...], cross_site: CrossSite, rate_limits: RateLimits,
                 allowed_hosts: AllowedHosts) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.adapter = url_map.bind("valet")
        # Matching costs ~10 µs, a twentieth of a whole key lookup; load scripts repeat paths.
        self.route = functools.lru_cache(maxsize=1024)(self._match)
        self.scopes = scopes
        self.keys = keys
        self.cross_site = cross_site
        self.rate_limits = rate_limits

    @classmethod
    def from_config(cls, app: WsgiApp, flask_app: Any, config: Config) -> "Gate":
        return cls(app, flask_app.url_map, scopes_of(flask_app.view_functions, config["Valet.docsOpen"]),
                   config["Valet.apiKeys"], CrossSite(config["Valet.cors.allowedOrigins"]),
                   RateLimits(config["Valet.rateLimit.perClient"], config["Valet.rateLimit.perKey"]),
                   AllowedHosts(config["Valet.allowedHosts"], config["Butler.restServerConfig.serverHost"]))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = [500]
        cors = self.cross_site.headers(environ)

        def _start(status_line: str, headers: list, exc_info: Any = None) -> Callable:
            status[0] = int(status_line[:3])
            return start_response(status_line, headers + cors, exc_info)

        try:
            refusal = self._refusal(environ)
            if refusal is None and self.cross_site.is_preflight(environ):
                _start("204 NO CONTENT", PREFLIGHT_HEADERS)
                return []
            if refusal is None:
                return self.app(environ, _start)
            environ["valet.error"] = refusal.message
            return start_json(_start, refusal.status,
                              error_body(refusal.status, refusal.message), refusal.headers)
        except Exception:
            log.exception("unhandled error on %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            return start_json(_start, 500, error_body(500, INTERNAL_ERROR))
        finally:
            log_request(environ.get("REQUEST_METHOD", "?"), environ.get("PATH_INFO", "?"),
                        status[0], started, environ.get("REMOTE_ADDR"), environ.get("valet.error"),
                        environ.get("valet.key_name"))

    def _match(self, path: str, method: str) -> tuple[str | None, dict[str, str]]:
        try:
            return self.adapter.match(path, method)
        except HTTPException:  # no such route: Flask answers (404, 405, 400) in JSON
            return None, {}

    def _refusal(self, environ: dict[str, Any]) -> Refusal | None:
        """Why the request is refused before any endpoint sees it, or None."""
        wrong_host = self.allowed_hosts.refusal(environ)
        if wrong_host is not None:
            return Refusal(400, wrong_host)
        cross_site = self.cross_site.refusal(environ)
        if cross_site is not None:
            return Refusal(403, cross_site)
        endpoint, args = self.route(environ["PATH_INFO"], environ["REQUEST_METHOD"])
        if endpoint is not None:
            environ["valet.route"] = (endpoint, args)
        scope = OPEN if endpoint is None else self.scopes.get(endpoint, DEFAULT_SCOPE)
        if scope == OPEN or environ["REQUEST_METHOD"] == "OPTIONS":
            return self._override_refusal(environ)
        return (self._rate_refusal("client", environ.get("REMOTE_ADDR") or "unknown")
                or self._key_refusal(environ, scope)
                or self._override_refusal(environ))

    def _rate_refusal(self, kind: str, who: str) -> Refusal | None:
        wait = self.rate_limits.retry_after(kind, who)
        if wait is None:
            return None
        return Refusal(429, self.rate_limits.message(kind, who, wait), [("Retry-After", str(wait))])

    def _key_refusal(self, environ: dict[str, Any], scope: str) -> Refusal | None:
        if not self.keys:
            return None
        presented = presented_key(environ)
        if presented is None:
            return Refusal(401, "an API key is required: send it as 'Authorization: Bearer <key>' "
                                "or 'X-API-Key: <key>'", CHALLENGE)
        key = find_key(self.keys, presented)
        if key is None:
            return Refusal(401, "the API key is not valid; check the key configured in "
                                "Valet.apiKeys", CHALLENGE)
        environ["valet.key_name"] = key.name
        if scope != ANY_KEY and scope not in key.scopes:
            return Refusal(403, f"the API key {key.name!r} may not do this: it needs the scope "
                                f"{scope!r} (it has {', '.join(sorted(key.scopes))})")
        return self._rate_refusal("key", key.name)

    @staticmethod
    def _override_refusal(environ: dict[str, Any]) -> Refusal | None:
        if "valet.bad_override" not in environ:
            return None
        return Refusal(400, f"X-HTTP-Method-Override {environ['valet.bad_override']!r} is not "
                            "supported; use PUT, DELETE or PATCH")


def scopes_of(view_functions: dict[str, Callable], docs_open: bool) -> dict[str, str]:
    """Endpoint name -> the scope its view declared (see `requires`)."""
    scopes = {name: getattr(view, "valet_scope", DEFAULT_SCOPE)
              for name, view in view_functions.items()}
    for name in DOCS_ENDPOINTS:
        scopes[name] = OPEN if docs_open else ANY_KEY
    scopes["swagger_assets"] = OPEN  # the UI's static files
    return scopes


def warn_if_exposed(host: str, keys: tuple[ApiKey, ...]) -> None:
    """A WARNING at start-up when Valet listens beyond loopback with no API keys."""
    if not keys and not is_loopback(host):
        log.warning("listening on %s without API keys: anyone who can reach this port can read "
                    "and change every key and start tasks; set Valet.apiKeys", host)
