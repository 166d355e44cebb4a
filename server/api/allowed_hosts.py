"""The Host allow-list against DNS rebinding: a web page on another site can make a browser
resolve that site's name to Valet's address; its requests then carry that site's name in
`Host` and look same-origin, so the cross-site check passes them. Valet answers only to the
names it is known by: `Valet.allowedHosts` (names or addresses, any port; `*` for any), by
default, when it listens on loopback only, `localhost`, `127.0.0.1` and `::1`, and any name
when it listens beyond loopback (clients there use names Valet cannot know; list them to be
protected). A request without `Host` (HTTP/1.0) is not refused: browsers always send it."""
from __future__ import annotations

import ipaddress
from typing import Any

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def host_name(header: str) -> str:
    """`name`, `name:port`, `[v6]:port` → the name, lowercased, without a final dot."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        header = header.partition(":")[0]
    return header.rstrip(".")


class AllowedHosts:
    def __init__(self, configured: list[str] | None, listen_host: str) -> None:
        if configured is None:
            configured = list(LOOPBACK_NAMES) if is_loopback(listen_host) else ["*"]
        self.names = {host_name(n) for n in configured}
        self.any = "*" in configured

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why the request's Host is refused, or None."""
        header = environ.get("HTTP_HOST")
        if self.any or header is None or host_name(header) in self.names:
            return None
        return (f"Host {header!r} is not a name of this Valet (Valet.allowedHosts: "
                f"{', '.join(sorted(self.names))}); add the name clients use to reach it")
