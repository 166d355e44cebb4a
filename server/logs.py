"""Logging set-up: one stream, lines written in batches.

Valet logs a line per request. Writing each line with its own system call costs a
key read about a sixth of its throughput under load (every call also hands Python's
GIL to another thread), so lines go to a buffer that a thread writes out every
`interval` seconds; warnings and errors are written at once, and the buffer is written
at exit. A crash (kill -9) can lose at most the last `interval` of INFO lines.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class BatchedStreamHandler(logging.StreamHandler):
    def __init__(self, stream: TextIO, interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        self.flusher_pid: int | None = None  # the flusher thread does not survive a fork
        # A forked child (gunicorn worker) must not write the parent's pending lines again.
        os.register_at_fork(before=self.flush_now)

    def emit(self, record: logging.LogRecord) -> None:
        if self.flusher_pid != os.getpid():
            self._start_flusher()
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.stream.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:  # called by emit() for every line; write in batches instead
        pass

    def flush_now(self) -> None:
        with self.lock:
            self.stream.flush()

    def _start_flusher(self) -> None:
        with self.lock:
            if self.flusher_pid == os.getpid():
                return
            self.flusher_pid = os.getpid()

        def flush_every_interval() -> None:
            while True:
                time.sleep(self.interval)
                self.flush_now()

        threading.Thread(target=flush_every_interval, name="valet-log-flush", daemon=True).start()
        atexit.register(self.flush_now)


def configure(level: int = logging.INFO) -> None:
    """Log to stderr through a buffer of its own (whatever Python's own buffering)."""
    stream = open(os.dup(sys.stderr.fileno()), "w", buffering=64 * 1024, encoding="utf-8",
                  errors="backslashreplace")
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    # Skip what the format does not show (the logging HOWTO's "Optimization" section
    # names these switches, _srcfile among them).
    # (gunicorn's own format shows the process id, so that one stays.)
    logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
