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
In both modes a connection whose first bytes are not a TLS handshake (`is_tls_handshake`) gets
one plain-HTTP answer, `PLAIN_HTTP_ANSWER`, once its request head is in.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from typing import Any, Callable

from server.api.plain import raw_error
from server.config import Config, ConfigError
from server.credentials import EncryptedKeyWithoutPassphrase, load_cert_chain
from server.slow_clients import ConnectionLimits, ThrottledReport, head_complete

log = logging.getLogger("valet.tls")
TLS = "Butler.restServerConfig.tls."
PASSPHRASE = "Valet.tls.keyPassphrase"
READ_CHUNK = 64 * 1024  # decrypted bytes taken from TLS at once


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


def is_tls_handshake(first: bytes) -> bool:
    """Whether a connection's first bytes open a TLS handshake record (content type 22,
    RFC 8446 §5.1), as every ClientHello does; an HTTP request starts with its method's letters."""
    return first[:1] == b"\x16"


# nginx's answer to the same mistake is 400 "The plain HTTP request was sent to HTTPS port".
PLAIN_HTTP_ANSWER = raw_error(400, "plain HTTP request sent to Valet's HTTPS port "
                                   f"({TLS}enable is true): use https:// instead of http://")


class _Pipe(asyncio.Protocol):
    """The relay's end of the socket pair to waitress: what waitress writes goes to the
    client, with flow control both ways; when either side ends, so does the other."""

    def __init__(self, client: "_Client") -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client.send(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.end()

    def pause_writing(self) -> None:
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        self.client.transport.resume_reading()

    def end(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()  # sends what is buffered first


class _Client(asyncio.Protocol):
    """The client's connection. Its first bytes decide: a TLS handshake goes through an
    `ssl.SSLObject` on memory buffers (what asyncio's own TLS transport does, but here the
    first bytes can be looked at before TLS starts, on any event loop) and, once the handshake
    is done, to waitress through `inside`; anything else is taken for plain HTTP and gets
    PLAIN_HTTP_ANSWER once its head is in. Either must be done within the header timeout."""

    def __init__(self, front: "TlsFront", server: Any, addr: Any) -> None:
        self.front, self.server, self.addr = front, server, addr
        self.transport: asyncio.Transport | None = None
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls: ssl.SSLObject | None = None
        self.head = b""  # plain HTTP: its head so far
        self.settled = False  # handshake done, answered or gone: no longer counted or timed
        self.inside: _Pipe | None = None
        self.pending: list[bytes] = []  # decrypted before `inside` is there

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.timer = self.front.loop.call_later(self.front.limits.header_timeout, self._timed_out)

    def data_received(self, data: bytes) -> None:
        if self.tls is None and (self.head or not is_tls_handshake(data)):
            self._plain_http(data)
            return
        if self.tls is None:
            self.tls = self.front.context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.incoming.write(data)
        try:
            if not self.settled:
                self.tls.do_handshake()
                self._settle()
                self.front.loop.create_task(self.front.relay(self))
            while chunk := self.tls.read(READ_CHUNK):
                self._deliver(chunk)
            self._close()  # b"": the client's close_notify
        except ssl.SSLWantReadError:
            self._flush()
        except ssl.SSLError as e:  # a failed handshake (its alert is sent), a bad record
            log.debug("TLS with %s failed: %s", self.addr[0], e)
            self._close()

    def _plain_http(self, data: bytes) -> None:
        self.head += data
        if head_complete(self.head):
            self._settle()
            self.transport.write(PLAIN_HTTP_ANSWER)
            self.transport.close()

    def _deliver(self, chunk: bytes) -> None:
        if self.inside is None:
            self.pending.append(chunk)
        else:
            self.inside.transport.write(chunk)

    def link(self, inside: _Pipe) -> None:
        self.inside = inside
        for chunk in self.pending:
            inside.transport.write(chunk)
        self.pending = []
        if self.transport.is_closing():  # the client left before the relay was there
            inside.end()

    def send(self, data: bytes) -> None:
        """Encrypt and send what waitress answered."""
        if self.transport.is_closing():
            return
        view = memoryview(data)
        try:
            while view:
                view = view[self.tls.write(view):]
        except ssl.SSLError:
            self.transport.close()
            return
        self._flush()

    def end(self) -> None:
        """Waitress closed its side: end TLS (close_notify) and the connection."""
        if self.transport.is_closing():
            return
        try:
            self.tls.unwrap()
        except ssl.SSLError:  # SSLWantReadError: close_notify is queued, the client's not awaited
            pass
        self._close()

    def _flush(self) -> None:
        if self.outgoing.pending:
            self.transport.write(self.outgoing.read())

    def _close(self) -> None:
        self._flush()
        self.transport.close()

    def _settle(self) -> None:
        if not self.settled:
            self.settled = True
            self.timer.cancel()
            self.front.settled(self.addr[0])

    def _timed_out(self) -> None:
        if not self.settled:
            self._settle()
            self.front.report.timed_out_one(self.addr[0])
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle()
        if self.inside is not None:
            self.inside.end()

    def pause_writing(self) -> None:
        if self.inside is not None:
            self.inside.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.inside is not None:
            self.inside.transport.resume_reading()


class TlsFront:
    """Used as the waitress server's `channel_class`: each accepted socket is handed to an
    asyncio loop on a thread of its own, which completes the TLS handshake (within
    `Valet.limits.headerTimeoutSeconds`), then relays plain text to a waitress channel made
    on one end of a socket pair, in waitress's loop, with the client's address.

    Only plain transports, `call_later` and `call_soon_threadsafe` are used, which every
    asyncio loop has: no `add_reader`, no TLS transport, no POSIX-only call, so Windows'
    default proactor loop serves it as Linux's selector loop does (tests/security/test_https.py
    runs it on a loop without `add_reader`)."""

    def __init__(self, context: ssl.SSLContext, channel_class: Callable, limits: ConnectionLimits,
                 report: ThrottledReport) -> None:
        self.context = context
        self.channel_class = channel_class
        self.limits = limits
        self.report = report
        self.handshaking: dict[str, int] = {}  # per client, touched on the loop's thread only
        made = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(made,), name="valet-tls", daemon=True)
        self.thread.start()
        made.wait()

    def _run(self, made: threading.Event) -> None:
        # Made on its own thread: Windows' proactor loop made on the main thread would take
        # the process's signal wakeup fd (asyncio/proactor_events.py), none of the relay's business.
        self.loop = asyncio.new_event_loop()
        made.set()
        self.loop.run_forever()

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
        self.loop.create_task(self._accept(server, sock, addr))

    async def _accept(self, server: Any, sock: socket.socket, addr: Any) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: _Client(self, server, addr), sock)
        except OSError as e:  # gone before it could be taken
            log.debug("connection from %s lost on accept: %s", addr[0], e)
            self.settled(addr[0])
            sock.close()

    def settled(self, client: str) -> None:
        """A connection no longer handshaking (done, answered, timed out or gone)."""
        self.handshaking[client] -= 1
        if not self.handshaking[client]:
            del self.handshaking[client]

    async def relay(self, client: _Client) -> None:
        try:
            plain, relay = socket.socketpair()
        except OSError as e:  # out of file descriptors
            log.warning("cannot relay a connection from %s to waitress: %s", client.addr[0], e)
            client.transport.abort()
            return
        _, inside = await self.loop.connect_accepted_socket(lambda: _Pipe(client), relay)
        client.link(inside)
        server = client.server
        # Waitress's channels must be made on its own loop's thread.
        server.trigger.pull_trigger(
            lambda: self.channel_class(server, plain, client.addr, server.adj, map=server._map))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
