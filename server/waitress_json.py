"""Valet's waitress channel: waitress's own error answers (a header block over its size cap, a
malformed request, a body over its cap) in Valet's JSON error shape instead of plain text
(waitress answers these before the app sees the request, so the gate cannot), and the
slow-client limits of server/slow_clients.py."""
from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from server.api.errors import error_body
from server.api.plain import encode
from server.slow_clients import ConnectionLimits, HeadDeadline, ThrottledReport


class JsonErrorTask(ErrorTask):
    def execute(self) -> None:
        error = self.request.error
        body = encode(error_body(error.code, f"{error.reason}: {error.body}"))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class ValetChannel(HTTPChannel):
    """The server carries `valet_limits` (ConnectionLimits) and `valet_report`
    (ThrottledReport), set by server.serve."""
    error_task_class = JsonErrorTask

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        limits: ConnectionLimits = server.valet_limits
        client = addr[0] if isinstance(addr, tuple) else str(addr)
        held = sum(1 for c in server.active_channels.values() if c.addr[0] == client)
        super().__init__(server, sock, addr, adj, map)
        self.deadline = HeadDeadline(limits.header_timeout)
        if limits.over_cap(held):
            self.will_close = True  # closed by the loop's next pass, before anything is read
            server.valet_report.refused_one(client)

    def readable(self) -> bool:
        # Called by the event loop on every pass (at least once a second).
        reading_head = not self.requests and (self.request is None
                                              or not self.request.headers_finished)
        self.deadline.waiting(reading_head)
        if reading_head and not self.will_close and self.deadline.expired():
            self.will_close = True
            report: ThrottledReport = self.server.valet_report
            report.timed_out_one(self.addr[0])
        return super().readable()
