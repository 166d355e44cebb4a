"""server.logs: lines written by a QueueListener thread, a burst in one write, ISO-8601 UTC
timestamps, Butler's level names, daily files kept 30 days, waitress's queue warning once per
interval, pending lines written at exit."""
from __future__ import annotations

import logging
import logging.handlers
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server import logs

ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _run(code: str, tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)


def test_lines_carry_iso_8601_utc_timestamps():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.created = 0.5  # 1970-01-01T00:00:00.500 UTC, whatever the machine's zone
    record.msecs = 500
    line = logs.UtcFormatter(logs.FORMAT).format(record)
    assert line == "1970-01-01T00:00:00.500Z INFO x: hello"


@pytest.mark.parametrize("name, level", [("error", logging.ERROR), ("warn", logging.WARNING),
                                         ("info", logging.INFO), ("verbose", logging.DEBUG),
                                         ("debug", logging.DEBUG), ("silly", logging.DEBUG),
                                         ("WARNING", logging.WARNING)])
def test_butlers_level_names_are_understood(name, level):
    # Butler's --loglevel choices: error, warn, info, verbose, debug, silly (winston's).
    assert logs.parse_level(name) == level


def test_an_unknown_level_names_the_choices():
    with pytest.raises(ValueError, match="expected one of error, warn"):
        logs.parse_level("loud")


class Stream:
    """Records each write() and flush() it receives."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def write(self, text: str) -> None:
        self.calls.append("write")

    def flush(self) -> None:
        self.calls.append("flush")


def test_a_burst_of_lines_is_flushed_once_the_queue_has_drained():
    pending = ["a", "b"]  # two more records waiting in the queue
    handler = logs._StreamHandler(Stream())
    handler.drained = lambda: not pending
    handler.setFormatter(logging.Formatter("%(message)s"))
    for text in ("one", "two", "three"):
        handler.handle(logging.LogRecord("x", logging.INFO, "", 1, text, None, None))
        if pending:
            pending.pop()
    assert handler.stream.calls == ["write", "write", "write", "flush"]


def test_pending_lines_are_written_at_exit_and_in_order():
    code = ("import logging, sys; from server import logs; logs.configure(); "
            "[logging.getLogger('x').info('line %d', n) for n in range(500)]; sys.exit(0)")
    r = _run(code)
    assert r.returncode == 0
    numbers = [int(n) for n in re.findall(r"INFO x: line (\d+)", r.stderr)]
    assert numbers == list(range(500))
    assert re.match(ISO_UTC, r.stderr)


def test_start_up_lines_come_before_an_error_printed_after_stop():
    code = ("import logging, sys; from server import logs; logs.configure(); "
            "logging.getLogger('x').info('starting'); logs.stop(); "
            "print('the error', file=sys.stderr); sys.exit(2)")
    r = _run(code)
    assert r.stderr.index("starting") < r.stderr.index("the error")


def test_a_log_directory_gets_a_file_rotated_at_midnight_utc_kept_30_days(tmp_path):
    logs.configure(logging.INFO, tmp_path / "log")
    try:
        logging.getLogger("valet.test").warning("to the file")
        logs.stop()
        files = [h for h in logs._output.handlers
                 if isinstance(h, logging.handlers.TimedRotatingFileHandler)]
        assert len(files) == 1
        assert (files[0].when, files[0].utc, files[0].backupCount) == ("MIDNIGHT", True, 30)
        assert "WARNING valet.test: to the file" in (tmp_path / "log" / "valet.log").read_text()
    finally:
        logs.configure(logging.INFO)  # leave the test process logging to stderr only


def test_the_waitress_queue_warning_is_passed_once_per_interval_with_its_depth():
    f = logs.QueueDepthFilter(interval=60)
    records = [logging.LogRecord("waitress.queue", logging.WARNING, "", 1,
                                 "Task queue depth is %d", (n,), None) for n in (1, 2, 3)]
    passed = [r for r in records if f.filter(r)]
    assert len(passed) == 1
    assert "1 request(s) waiting" in passed[0].getMessage()


def test_urllib3_retry_warnings_show_only_at_debug():
    logs.configure(logging.INFO)
    assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.WARNING)
    logs.configure(logging.DEBUG)
    assert logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.WARNING)
    logs.configure(logging.INFO)
