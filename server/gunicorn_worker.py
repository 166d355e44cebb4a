"""Valet's gunicorn worker (`--workers N`, Linux only): gunicorn's threaded worker, with

- every error gunicorn answers itself (a header over 8 KB, a malformed request line…) in
  Valet's JSON error shape instead of gunicorn's HTML page;
- request heads read in the worker's event loop, not on a thread: gunicorn hands a
  connection to one of its few threads as soon as a first byte arrives, so a handful of
  clients sending their headers a byte a second held every thread. Here a connection reaches
  a thread only once its whole head is in (its bytes are given to gunicorn's parser), within
  `Valet.limits.headerTimeoutSeconds`; a client may have at most
  `Valet.limits.connectionsPerClient` connections sending a head at once (per worker).
  With TLS on, the handshake is done there too, within the same time, and a connection
  that starts with plain HTTP instead gets server.tls's answer once its head is in.
"""
from __future__ import annotations

import errno
import selectors
import socket
import ssl
import time
from collections import Counter, deque
from functools import partial
from typing import Any

from server.api.plain import raw_error
from server.slow_clients import MAX_HEAD, ConnectionLimits, ThrottledReport, head_complete
from server.tls import PLAIN_HTTP_ANSWER, is_tls_handshake


def worker_class(conn_limits: ConnectionLimits, context: ssl.SSLContext | None) -> type:  # linux-only
    """gunicorn's `worker_class` for these limits (and TLS context, when TLS is on)."""
    from gunicorn import http, util
    from gunicorn.workers.gthread import TConn, ThreadWorker

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        util.write_nonblock(sock, raw_error(status_int, f"{reason}: {mesg}" if mesg else reason))

    # gunicorn answers its own errors through this one function (gunicorn.workers.base).
    util.write_error = write_error

    class _Conn(TConn):
        head = b""  # what was read in the event loop, for the parser
        tls: bool | None = None  # with TLS on: whether it began with a handshake (None: unread)
        handshaken = False

        def init(self) -> None:
            if self.initialized:
                return
            if context is None:
                super().init()
            else:  # wrapped and handshaken in the event loop: the rest of TConn.init
                self.initialized = True
                self.sock.setblocking(True)
                self.parser = http.get_parser(self.cfg, self.sock, self.client)
            if self.head and not self.is_http2:
                self.parser.unreader.unread(self.head)
                self.head = b""

    class ValetWorker(ThreadWorker):
        limits = conn_limits

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.report = ThrottledReport(self.limits)
            self.heads: deque[tuple[float, _Conn]] = deque()  # (deadline, conn), oldest first
            self.reading: Counter[str] = Counter()  # connections sending a head, per client

        def accept(self, listener: Any) -> None:
            try:
                sock, addr = listener.accept()
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    raise
                return
            self.nr_conns += 1
            conn = _Conn(self.cfg, sock, addr, listener.getsockname())
            if self.limits.over_cap(self.reading[addr[0]]):
                self.report.refused_one(addr[0])
                self._drop(conn)
                return
            self._await_head(conn, register=True)

        def on_client_socket_readable(self, conn: _Conn, client: Any) -> None:
            """A kept-alive connection has a next request coming: read its head here too."""
            self.keepalived_conns.remove(conn)
            self._await_head(conn, register=False)
            self._read_head(conn, conn.sock)  # readable now: no need to wait for the next poll

        def _await_head(self, conn: _Conn, register: bool) -> None:
            conn.head = b""
            self.reading[conn.client[0]] += 1
            self.heads.append((time.monotonic() + self.limits.header_timeout, conn))
            callback = partial(self._read_head, conn)
            if register:
                self.poller.register(conn.sock, selectors.EVENT_READ, callback)
            else:
                self.poller.modify(conn.sock, selectors.EVENT_READ, callback)

        def _read_head(self, conn: _Conn, _sock: Any) -> None:
            try:
                if context is not None and not conn.handshaken:
                    self._handshake(conn)
                data = conn.sock.recv(MAX_HEAD)
                while conn.handshaken and data and conn.sock.pending():  # decrypted, held by TLS
                    data += conn.sock.recv(conn.sock.pending())
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except OSError:  # ssl.SSLError included: a failed handshake
                data = b""
            if not data:  # the client went away
                self._stop_reading(conn)
                self._drop(conn)
                return
            conn.head += data
            if head_complete(conn.head):
                self._stop_reading(conn)
                if conn.tls is False:
                    self._answer_plain_http(conn)
                    return
                if conn.parser is not None:  # kept alive: its parser already exists
                    conn.parser.unreader.unread(conn.head)
                    conn.head = b""
                conn.data_ready = True
                self.enqueue_req(conn)

        def _handshake(self, conn: _Conn) -> None:
            """Look at the first byte (raising BlockingIOError until there is one): a TLS
            handshake is wrapped and done (raising SSLWantReadError until it is)."""
            if conn.tls is None:
                first = conn.sock.recv(1, socket.MSG_PEEK)
                if not first:
                    return  # gone: the recv that follows reads b""
                conn.tls = is_tls_handshake(first)
                if conn.tls:  # the socket object changes: so does the poller's entry
                    self.poller.unregister(conn.sock)
                    conn.sock = context.wrap_socket(conn.sock, server_side=True,
                                                    do_handshake_on_connect=False)
                    self.poller.register(conn.sock, selectors.EVENT_READ,
                                         partial(self._read_head, conn))
            if conn.tls:
                conn.sock.do_handshake()
                conn.handshaken = True

        def _answer_plain_http(self, conn: _Conn) -> None:
            try:
                conn.sock.send(PLAIN_HTTP_ANSWER)
            except OSError:
                pass
            self._drop(conn)

        def _stop_reading(self, conn: _Conn) -> None:
            self.poller.unregister(conn.sock)
            self.heads = deque(entry for entry in self.heads if entry[1] is not conn)
            self._uncount(conn)

        def _uncount(self, conn: _Conn) -> None:
            client = conn.client[0]
            self.reading[client] -= 1
            if self.reading[client] <= 0:
                del self.reading[client]

        def _drop(self, conn: _Conn) -> None:
            self.nr_conns -= 1
            conn.close()

        def murder_pending(self) -> None:
            super().murder_pending()
            now = time.monotonic()
            while self.heads and self.heads[0][0] <= now:
                _, conn = self.heads.popleft()
                self.poller.unregister(conn.sock)
                self._uncount(conn)
                self.report.timed_out_one(conn.client[0])
                self._drop(conn)

    return ValetWorker
