"""server.logs: request lines are written in batches, warnings at once, all at exit."""
from __future__ import annotations

import logging
import subprocess
import sys
import time

from server.logs import BatchedStreamHandler


class Stream:
    """A text stream that records what reached it through flush()."""

    def __init__(self) -> None:
        self.pending, self.written = "", ""

    def write(self, text: str) -> None:
        self.pending += text

    def flush(self) -> None:
        self.written, self.pending = self.written + self.pending, ""


def _logger(handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(f"test-logs-{id(handler)}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def test_info_lines_are_written_within_the_interval_not_one_by_one():
    stream = Stream()
    log = _logger(BatchedStreamHandler(stream, interval=0.2))
    log.info("one")
    log.info("two")
    assert stream.written == ""  # not yet: no system call per line
    deadline = time.monotonic() + 3
    while "two" not in stream.written and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stream.written == "one\ntwo\n"


def test_warnings_are_written_at_once_with_what_came_before():
    stream = Stream()
    log = _logger(BatchedStreamHandler(stream, interval=60))
    log.info("request line")
    log.warning("trouble")
    assert stream.written == "request line\ntrouble\n"


def test_pending_lines_are_written_when_the_process_exits():
    code = ("import logging, sys; from server import logs; logs.configure(); "
            "logging.getLogger('x').info('last words'); sys.exit(0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0
    assert "INFO x: last words" in r.stderr


def test_a_forked_child_does_not_write_the_parents_pending_lines_again():
    code = ("import logging, os, sys; from server import logs; logs.configure(); "
            "log = logging.getLogger('x'); log.info('before the fork'); pid = os.fork(); "
            "log.info('after the fork'); "
            "sys.exit(0) if pid == 0 else os.waitpid(pid, 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0
    assert r.stderr.count("after the fork") == 2, r.stderr  # parent and child
    assert r.stderr.count("before the fork") == 1, r.stderr
