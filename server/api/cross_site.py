"""Refusing requests a browser sends on behalf of another site (cross-site request forgery):
a web page a Sense user opens must not store keys or start tasks through the user's network
position. A request is refused when its `Origin` is neither Valet's own nor listed in
`Valet.cors.allowedOrigins`, or when the browser marks it `Sec-Fetch-Site: cross-site` and its
origin is not listed. Clients that send neither header (Qlik's REST connector, curl,
schedulers) are not affected. Listed origins get CORS headers, preflights included.
"""
from __future__ import annotations

from typing import Any

PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE"),
    ("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key, X-HTTP-Method-Override"),
    ("Access-Control-Max-Age", "600"),
]


class CrossSite:
    def __init__(self, allowed_origins: list[str]) -> None:
        self.allowed = {o.rstrip("/").lower() for o in allowed_origins}

    def _origin(self, environ: dict[str, Any]) -> str | None:
        origin = environ.get("HTTP_ORIGIN")
        return None if origin is None else origin.rstrip("/").lower()

    @staticmethod
    def _own_origin(environ: dict[str, Any]) -> str:
        return f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}".lower()

    def listed(self, environ: dict[str, Any]) -> bool:
        return self._origin(environ) in self.allowed

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why the request is refused as cross-site, or None."""
        origin = self._origin(environ)
        if origin in self.allowed:
            return None
        if origin is not None and origin != self._own_origin(environ):
            return (f"cross-site request refused: Origin {environ['HTTP_ORIGIN']!r} is not "
                    "listed in Valet.cors.allowedOrigins")
        if (environ.get("HTTP_SEC_FETCH_SITE") or "").lower() == "cross-site":
            return ("cross-site request refused (Sec-Fetch-Site: cross-site); list the page's "
                    "origin in Valet.cors.allowedOrigins to allow it")
        return None

    def is_preflight(self, environ: dict[str, Any]) -> bool:
        return (environ["REQUEST_METHOD"] == "OPTIONS" and self.listed(environ)
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ)

    def headers(self, environ: dict[str, Any]) -> list[tuple[str, str]]:
        """CORS headers for an answer to a listed origin."""
        if not self.listed(environ):
            return []
        return [("Access-Control-Allow-Origin", environ["HTTP_ORIGIN"]), ("Vary", "Origin")]
