"""HTTPS on Valet's own listener, from Butler's keys `Butler.restServerConfig.tls.enable /
cert / key / ca` (Butler 16: https://github.com/ptarmiganlabs/butler,
docs/to-doc-site/rest-api-https-support.md). As in Butler, `ca` is an optional CA or
intermediate bundle that completes the chain sent to clients; client certificates are not
requested. TLS 1.2 and newer only, Python's default (forward-secret, AEAD) ciphers. An
encrypted key takes `Valet.tls.keyPassphrase`; Valet never prompts for one.

Waitress has no TLS, so `TlsFront` terminates it in an asyncio loop (the standard library's
TLS, slow clients cost no thread) and hands each connection's plain side to waitress as a
channel with the client's real address, so waitress's parsing, JSON errors and slow-client
limits apply unchanged. Gunicorn (`--workers N`) is given the same `ssl.SSLContext`.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from typing import Any, Callable

from server.config import Config, ConfigError
from server.credentials import EncryptedKeyWithoutPassphrase, load_cert_chain
from server.slow_clients import ConnectionLimits, ThrottledReport

log = logging.getLogger("valet.tls")
TLS = "Butler.restServerConfig.tls."
PASSPHRASE = "Valet.tls.keyPassphrase"


def enabled(config: Config) -> bool:
    return config[TLS + "enable"]


def server_context(config: Config) -> ssl.SSLContext:
    """The listener's TLS context; ConfigError naming the key for anything unusable."""
    cert, key, ca = (config[TLS + name] for name in ("cert", "key", "ca"))
    for name, path in (("cert", cert), ("key", key), ("ca", ca)):
        if not path and name != "ca":
            raise ConfigError(f"{TLS}{name} is not set: with {TLS}enable true, Valet needs the "
                              "server certificate and its private key (PEM files)")
        if path:
            _readable(TLS + name, path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        load_cert_chain(context, cert, key, config[PASSPHRASE])
    except EncryptedKeyWithoutPassphrase:
        raise ConfigError(f"{TLS}key: {key} is encrypted: give its passphrase in {PASSPHRASE} "
                          "(text, {file: PATH} or {env: NAME})") from None
    except ssl.SSLError as e:
        hint = f", or {PASSPHRASE} is not the key's passphrase" if config[PASSPHRASE] else ""
        raise ConfigError(f"{TLS}cert/{TLS}key: {cert} and {key} are not a PEM certificate and "
                          f"its private key{hint} ({e.reason or e})") from None
    if ca:
        try:
            context.load_verify_locations(ca)  # OpenSSL completes the served chain from these
        except ssl.SSLError as e:
            raise ConfigError(f"{TLS}ca: {ca} holds no PEM certificate ({e.reason or e})") from None
    return context


def _readable(key: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {path}: {e.strerror}") from None


class _Pipe(asyncio.Protocol):
    """One side of a connection's relay: what arrives is written to the other side, with
    flow control both ways; when either side ends, both are closed."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Pipe | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def link(self, peer: "_Pipe") -> None:
        self.peer = peer
        for data in self.pending:
            peer.transport.write(data)
        self.pending = []

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self.peer.transport.write(data)

    def eof_received(self) -> None:
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and not self.peer.transport.is_closing():
            self.peer.transport.close()  # sends what is buffered first

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.resume_reading()


class TlsFront:
    """Used as the waitress server's `channel_class`: each accepted socket is handed to an
    asyncio loop on a thread of its own, which completes the TLS handshake (within
    `Valet.limits.headerTimeoutSeconds`), then relays plain text to a waitress channel made
    on one end of a socket pair, in waitress's loop, with the client's address."""

    def __init__(self, context: ssl.SSLContext, channel_class: Callable, limits: ConnectionLimits,
                 report: ThrottledReport) -> None:
        self.context = context
        self.channel_class = channel_class
        self.limits = limits
        self.report = report
        self.handshaking: dict[str, int] = {}  # per client, touched on the loop's thread only
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="valet-tls", daemon=True)
        self.thread.start()

    def __call__(self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any = None) -> None:
        self.loop.call_soon_threadsafe(self._admit, server, sock, addr)

    def _admit(self, server: Any, sock: socket.socket, addr: Any) -> None:
        client = addr[0]
        if (self.limits.over_cap(self.handshaking.get(client, 0))
                or sum(self.handshaking.values()) >= self.limits.connections):
            self.report.refused_one(client)
            sock.close()
            return
        self.handshaking[client] = self.handshaking.get(client, 0) + 1
        self.loop.create_task(self._serve(server, sock, addr))

    async def _serve(self, server: Any, sock: socket.socket, addr: Any) -> None:
        client = addr[0]
        sock.setblocking(False)
        try:
            _, outside = await self.loop.connect_accepted_socket(
                _Pipe, sock, ssl=self.context, ssl_handshake_timeout=self.limits.header_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as e:
            log.debug("TLS handshake with %s failed: %s", client, e)
            sock.close()
            return
        finally:
            self.handshaking[client] -= 1
            if not self.handshaking[client]:
                del self.handshaking[client]
        plain, relay = socket.socketpair()
        _, inside = await self.loop.connect_accepted_socket(_Pipe, relay)
        outside.link(inside)
        inside.link(outside)
        # Waitress's channels must be made on its own loop's thread.
        server.trigger.pull_trigger(
            lambda: self.channel_class(server, plain, addr, server.adj, map=server._map))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
