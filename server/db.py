"""Database engine, transactions and migrations.

SQLite by default (WAL journal; synchronous=NORMAL keeps every committed transaction
through a process crash, FULL adds an fsync per commit for power loss), PostgreSQL by URL.
Writes run in `write_transaction` (or `DriverConnections.writing`), which on SQLite
takes the write lock up front (BEGIN IMMEDIATE) so concurrent writers, threads or
processes, are serialised, not failed.
"""
from __future__ import annotations

import os
import queue
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from weakref import WeakKeyDictionary, finalize

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, fsync_each_commit: bool = False, pool_size: int = 16) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, pool_pre_ping=True)
    path = parsed.database if parsed.database and parsed.database != ":memory:" else None
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, connect_args={"timeout": 30})
    _write_locks[engine] = WriteLock(Path(path + ".writelock") if path else None)
    synchronous = "FULL" if fsync_each_commit else "NORMAL"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Autocommit at the driver: transactions are opened by write transactions only.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class WriteLock:
    """Serialises the writers of one SQLite database: threads of a process on a lock, and
    processes sharing the file (gunicorn workers) on an flock of a file beside it. Both
    wait in the kernel and wake as soon as the lock is free, whereas SQLite's own busy
    handler sleeps in steps of up to 100 ms. The flock is skipped where there is no fcntl
    (Windows, where Valet runs as one process)."""

    def __init__(self, path: Path | None) -> None:
        self.thread_lock = threading.Lock()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path and fcntl else None
        if self.fd is not None:
            finalize(self, os.close, self.fd)

    def __enter__(self) -> None:
        self.thread_lock.acquire()
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self.thread_lock.release()


_write_locks: "WeakKeyDictionary[Engine, WriteLock]" = WeakKeyDictionary()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement.

    Reads run in SQLite's autocommit mode (each SELECT sees a consistent snapshot); a
    write opens its transaction explicitly with BEGIN IMMEDIATE, so that a
    check-then-insert can never interleave with another writer's."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _write_locks[engine], engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


class DriverConnections:
    """One driver connection per thread, checked out of the engine's pool once and kept,
    for the store's hot statements: a pool checkout and return per call costs more than
    a key lookup in SQLite does. `reading()` and `writing()` yield a driver cursor."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.local = threading.local()

    def _connection(self) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = self.engine.raw_connection()
        return connection

    def release(self) -> None:
        """Give the calling thread's connection back to the pool."""
        connection = getattr(self.local, "connection", None)
        if connection is not None:
            self.local.connection = None
            connection.close()

    @contextmanager
    def reading(self) -> Iterator[Any]:
        connection = self._connection()
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            if not self.sqlite:  # SQLite reads run in autocommit; others end the snapshot
                connection.rollback()

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """A transaction holding the write lock (see write_transaction)."""
        if not self.sqlite:
            with self._transaction() as cursor:
                yield cursor
            return
        with _write_locks[self.engine], self._transaction("BEGIN IMMEDIATE") as cursor:
            yield cursor

    @contextmanager
    def _transaction(self, begin: str | None = None) -> Iterator[Any]:
        connection = self._connection()
        cursor = connection.cursor()
        try:
            if begin:
                cursor.execute(begin)
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            cursor.close()


class Prepared:
    """A Core statement compiled once for one engine and run on a driver cursor.

    SQLAlchemy's per-execution machinery costs several times what a key lookup in SQLite
    does; the store's hot paths are a few fixed statements on plain column types (no
    result or bind processing needed), so they skip it."""

    def __init__(self, engine: Engine, statement: Executable) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positions = compiled.positiontup  # None for named paramstyles (psycopg)

    def run(self, cursor: Any, params: dict[str, Any]) -> Any:
        """Execute with `params` (by bind name) on a driver cursor; returns the cursor."""
        args = params if self.positions is None else [params[n] for n in self.positions]
        cursor.execute(self.sql, args)
        return cursor


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with write_transaction(engine) as conn:  # one process migrates at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


class _Write:
    __slots__ = ("statement", "params", "done", "rowcount", "error")

    def __init__(self, statement: Prepared, params: dict[str, Any]) -> None:
        self.statement, self.params = statement, params
        self.done = threading.Event()
        self.rowcount: int = 0
        self.error: BaseException | None = None


class GroupCommit:
    """Runs the single-statement writes of many threads in as few transactions as the
    load allows (group commit): one writer thread takes every write queued while the
    previous transaction ran and commits them together; each caller returns once its
    own write has committed. Under load this cuts the lock handoffs per write, which
    in one Python process cost far more than the write itself. If a shared transaction
    fails on one write's data (a constraint), each write is retried alone, so a bad write
    fails only its caller; a failure of the database itself fails the whole batch at once."""

    def __init__(self, connections: DriverConnections, max_batch: int = 64,
                 idle_seconds: float = 1.0) -> None:
        self.connections = connections
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        dbapi = connections.engine.dialect.dbapi
        self.statement_errors = (dbapi.IntegrityError, dbapi.DataError)
        self.queue: "queue.SimpleQueue[_Write]" = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.start_lock = threading.Lock()

    def run(self, statement: Prepared, params: dict[str, Any]) -> int:
        """Execute `statement` with `params`, committed; returns the affected row count."""
        write = _Write(statement, params)
        with self.start_lock:  # a writer is running, or started here, to take the write
            if self.writer is None:
                writer = threading.Thread(target=self._write_until_idle, name="valet-writer",
                                          daemon=True)
                writer.start()  # if this fails, the caller hears it and nothing is queued
                self.writer = writer
            self.queue.put(write)
        write.done.wait()
        if write.error is not None:
            raise write.error
        return write.rowcount

    def _write_until_idle(self) -> None:
        # Ends after a second without writes (giving back its connection), so that idle
        # stores hold no thread; the next write starts a new one.
        while True:
            try:
                batch = [self.queue.get(timeout=self.idle_seconds)]
            except queue.Empty:
                with self.start_lock:
                    if self.queue.empty():
                        self.writer = None
                        self.connections.release()
                        return
                continue
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get())
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Write]) -> None:
        try:
            self._commit(batch)
        except self.statement_errors:  # one write's own fault: the others can still commit
            for write in batch:
                try:
                    self._commit([write])
                except Exception as e:
                    write.error = e
        except Exception as e:  # the database's (locked, disk, connection): all fail now
            for write in batch:
                write.error = e
        for write in batch:
            write.done.set()

    def _commit(self, batch: list[_Write]) -> None:
        with self.connections.writing() as cursor:
            for write in batch:
                write.rowcount = write.statement.run(cursor, write.params).rowcount
