"""Waitress's own error answers (a header block over its size cap, a malformed request, a body
over its cap) in Valet's JSON error shape instead of plain text: waitress answers these before
the app sees the request, so the gate cannot."""
from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from server.api.errors import error_body
from server.api.plain import encode


class JsonErrorTask(ErrorTask):
    def execute(self) -> None:
        error = self.request.error
        body = encode(error_body(error.code, f"{error.reason}: {error.body}"))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask
