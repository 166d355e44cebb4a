"""Values from requests are logged with their control characters escaped, so that a newline in
a namespace cannot forge a log line and raw control bytes never reach a terminal or a log
reader. One record factory covers every logger: the text arguments of each record (and
exceptions, whose messages may quote input) are escaped; the message templates are Valet's own.
"""
from __future__ import annotations

import logging
import re
from typing import Any

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    """`text` with each control character written as \\xNN (or \\uNNNN)."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def _safe(arg: Any) -> Any:
    if isinstance(arg, str):
        return escape(arg)
    if isinstance(arg, BaseException):
        return escape(str(arg))
    return arg


def install() -> None:
    """Escape the arguments of every log record from now on (once per process)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "escapes_control_characters", False):
        return

    def escaping_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if isinstance(record.args, tuple):
            record.args = tuple(_safe(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _safe(v) for k, v in record.args.items()}
        return record

    escaping_factory.escapes_control_characters = True
    logging.setLogRecordFactory(escaping_factory)
