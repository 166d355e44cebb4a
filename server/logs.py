"""Logging set-up: stderr and, when configured, a file rotated daily, both written by one
thread of the standard library's QueueListener; request threads only hand records to its
queue (QueueHandler), so no request waits for a write.

The listener's handlers write a burst of lines with one system call: they flush only once
the queue has drained (every flush also hands Python's GIL to another thread, which under
load cost a key read a sixth of its throughput when each line was flushed on its own).
Timestamps are ISO-8601 in UTC. Library noise is kept down (QUIET_LIBRARIES), and
waitress's "Task queue depth" warning, written for every queued request, passes at most once
per interval.
"""
from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
import sys
import time
from pathlib import Path
from typing import Callable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE = "valet.log"
KEEP_DAYS = 30  # as Butler keeps its daily log files
# Butler's level names (winston's) and Python's; Butler's finer ones map to DEBUG.
LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING,
          "info": logging.INFO, "verbose": logging.DEBUG, "debug": logging.DEBUG,
          "silly": logging.DEBUG, "critical": logging.CRITICAL}


# Libraries whose lines add nothing below these levels (unless Valet logs at DEBUG): urllib3's
# retries (the repository client reports the failure itself), alembic's migration steps.
QUIET_LIBRARIES = {"urllib3": logging.ERROR, "alembic": logging.WARNING}


class UtcFormatter(logging.Formatter):
    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


class _FlushWhenDrained:
    """Mixed into a handler of the listener: flush once the queue holds no more records."""

    drained: Callable[[], bool] = staticmethod(lambda: True)

    def flush(self) -> None:
        if self.drained():
            super().flush()

    def flush_now(self) -> None:
        super().flush()


class _StreamHandler(_FlushWhenDrained, logging.StreamHandler):
    pass


class _DailyFileHandler(_FlushWhenDrained, logging.handlers.TimedRotatingFileHandler):
    pass


class QueueDepthFilter(logging.Filter):
    """Waitress warns "Task queue depth is N" for every request that waits for a thread;
    pass one such line per `interval` seconds, saying what it means."""

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self.last = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = ("all threads busy: %s request(s) waiting for one (reported at "
                                   "most once per %g s; raise Valet.threads if this persists)",
                                   (depth, self.interval))
        return True


class _Output:
    """The handlers, fed by a QueueListener thread (started) or directly (stopped)."""

    def __init__(self, handlers: list[logging.Handler]) -> None:
        self.handlers = handlers
        self.queue: queue.SimpleQueue | None = None
        self.listener: logging.handlers.QueueListener | None = None
        for handler in handlers:
            handler.drained = self.drained

    def drained(self) -> bool:
        return self.queue is None or self.queue.empty()

    def start(self) -> None:
        self.queue = queue.SimpleQueue()
        self.listener = logging.handlers.QueueListener(self.queue, *self.handlers,
                                                       respect_handler_level=True)
        logging.getLogger().handlers = [logging.handlers.QueueHandler(self.queue)]
        self.listener.start()

    def stop(self) -> None:
        """Write every pending line; from now on lines are written directly."""
        if self.listener is not None:
            self.listener.stop()
        self.queue = self.listener = None
        logging.getLogger().handlers = list(self.handlers)
        for handler in self.handlers:
            handler.flush_now()


_output: _Output | None = None


def parse_level(name: str) -> int:
    """A level from Butler's (`warn`, `verbose`…) or Python's names."""
    try:
        return LEVELS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"expected one of {', '.join(LEVELS)}, got {name!r}") from None


def _stderr_handler() -> logging.Handler:
    # A buffer of its own: Python's stderr is line-buffered, a system call per line.
    stream = open(os.dup(sys.stderr.fileno()), "w", buffering=64 * 1024, encoding="utf-8",
                  errors="backslashreplace")
    return _StreamHandler(stream)


def _file_handler(directory: Path) -> logging.Handler:
    directory.mkdir(parents=True, exist_ok=True)
    return _DailyFileHandler(directory / LOG_FILE, when="midnight", utc=True,
                             backupCount=KEEP_DAYS, encoding="utf-8")


def configure(level: int = logging.INFO, directory: Path | None = None) -> None:
    """Log at `level` to stderr and, with `directory`, to `valet.log` there, rotated at
    midnight UTC and kept `KEEP_DAYS` days. Calling it again replaces the set-up."""
    global _output
    if _output is not None:
        _output.stop()
        for handler in _output.handlers:
            handler.close()
    else:
        atexit.register(stop)
    handlers = [_stderr_handler()] + ([_file_handler(directory)] if directory else [])
    for handler in handlers:
        handler.setFormatter(UtcFormatter(FORMAT))
    _output = _Output(handlers)
    logging.getLogger().setLevel(level)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if level <= logging.DEBUG else quiet)
    queue_logger = logging.getLogger("waitress.queue")
    queue_logger.filters = [QueueDepthFilter()]
    # Skip what the format does not show (the logging HOWTO's "Optimization" section
    # names these switches, _srcfile among them).
    logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    _output.start()


def stop() -> None:
    """Write every pending line and stop the writer thread (at exit, before printing an
    error, before forking workers); later lines are written directly."""
    if _output is not None:
        _output.stop()


def restart() -> None:
    """In a forked worker: a queue and writer thread of its own."""
    if _output is not None:
        _output.start()
