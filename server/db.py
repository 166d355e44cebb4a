"""The database: one `Database` object per store holds the engine, the write lock and the
connections, and is the one way to it: reads through `read()`, every write through
`write()` (or its one-statement and pipelined variants).

SQLite by default (WAL journal; synchronous=NORMAL keeps every committed transaction
through a process crash, FULL adds an fsync per commit for power loss), PostgreSQL by URL.
On SQLite writes are serialised by a write lock and committed in groups (GroupCommit); on
PostgreSQL each caller's write is its own transaction, retried on a serialization failure
or deadlock, and a write of one statement, or a read, is sent alone in autocommit (one
round trip instead of BEGIN, the statement and COMMIT: what a database on another machine
costs is round trips); a write that reads no result before its end is sent with BEGIN and
COMMIT as one pipeline (one round trip). A connection whose server went away is discarded
and replaced on next use.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar
from weakref import finalize

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, fsync_each_commit: bool = False, pool_size: int = 16) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):  # psycopg 3, not SQLAlchemy's default
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=pool_size, pool_pre_ping=True)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_size=pool_size, pool_pre_ping=True)
    path = parsed.database if parsed.database and parsed.database != ":memory:" else None
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, connect_args={"timeout": 30})
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



class DatabaseUnavailable(Exception):
    """The database cannot be reached or cannot take the work now (an outage, a restart, a
    lock held too long); `message` says so. Nothing of the failed call was committed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DiskFull(DatabaseUnavailable):
    """The database's disk is full: writes fail until space is freed; reads still work."""


SQLITE_FULL, POSTGRESQL_DISK_FULL = 13, "53100"  # SQLite's result code, PostgreSQL's SQLSTATE

W = TypeVar("W")
Unit = Callable[[Any], W]  # a write: statements run on a driver cursor, inside a transaction
MIGRATION_LOCK = 0x56414C4554  # "VALET": the advisory lock PostgreSQL instances migrate under
RETRIES = 5  # of a PostgreSQL write that lost a serialization or deadlock race


class Database:
    """One database and the one way to it. Each thread keeps one driver connection
    (checked out of the engine's pool once: a checkout per call costs more than a key
    lookup in SQLite does); a connection that fails with the database's own error (not a
    statement's) is invalidated and replaced on the thread's next call."""

    def __init__(self, url: str, fsync_each_commit: bool = False, pool_size: int = 16) -> None:
        self.engine = make_engine(url, fsync_each_commit, pool_size)
        self.dialect = self.engine.dialect.name
        self.sqlite = self.dialect == "sqlite"
        path = self.engine.url.database if self.sqlite else None
        self.lock = WriteLock(Path(path + ".writelock") if path and path != ":memory:" else None)
        dbapi = self.engine.dialect.dbapi
        self.statement_errors = (dbapi.IntegrityError, dbapi.DataError, dbapi.ProgrammingError)
        self.outage_errors = (dbapi.OperationalError, dbapi.InterfaceError, exc.OperationalError,
                              exc.InterfaceError)
        self.local = threading.local()
        self.group = GroupCommit(self) if self.sqlite else None
        self.clock = None if self.sqlite else DatabaseClock(self.engine, self.outage_errors)
        self.disk_full_at: float | None = None  # time.monotonic() of the last disk-full failure

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def _connection(self) -> Any:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            if not self.sqlite:  # transactions are opened by transaction() only, as on SQLite
                connection.driver_connection.autocommit = True
            self.local.connection = connection
        return connection

    def release(self) -> None:
        """Give the calling thread's connection back to the pool (as the pool lends them:
        not in autocommit, since SQLAlchemy's own transactions rely on that)."""
        connection = getattr(self.local, "connection", None)
        if connection is not None:
            self.local.connection = None
            if not self.sqlite:
                with suppress(self.engine.dialect.dbapi.Error):
                    connection.driver_connection.autocommit = False
            connection.close()

    def _close(self, cursor: Any) -> None:
        # Quietly: after a failure the connection may be gone, and the failure is what counts.
        with suppress(self.engine.dialect.dbapi.Error):
            cursor.close()

    def _end_after_failure(self, connection: Any, error: BaseException) -> None:
        """Roll back; after the database's own error (connection lost, server restarted,
        disk) the connection may be unusable, so it is dropped and the next call gets a new one."""
        dbapi = self.engine.dialect.dbapi
        broken = isinstance(error, dbapi.Error) and not isinstance(error, self.statement_errors)
        try:
            connection.rollback()
        except dbapi.Error:
            broken = True
        if broken:
            self.local.connection = None
            connection.invalidate()

    @contextmanager
    def _cursor(self, begin: str | None, end: str | None) -> Iterator[Any]:
        """A cursor on the thread's connection: `begin` executed first, the connection's
        `end` ("commit", "rollback") called on success, a rollback after a failure."""
        connection = self._connection()
        cursor = connection.cursor()
        try:
            if begin:
                cursor.execute(begin)
            yield cursor
            if end:
                getattr(connection, end)()
        except BaseException as e:
            self._end_after_failure(connection, e)
            raise
        finally:
            self._close(cursor)

    def _unavailable(self, error: BaseException) -> DatabaseUnavailable:
        reason = getattr(error, "orig", None) or error
        if (getattr(reason, "sqlite_errorcode", None) == SQLITE_FULL
                or getattr(reason, "sqlstate", None) == POSTGRESQL_DISK_FULL):
            self.disk_full_at = time.monotonic()
            return DiskFull(f"disk full: the disk holding the database ({self.safe_url}) has no "
                            "room for the write; nothing was stored; free disk space, then retry")
        return DatabaseUnavailable(f"the database ({self.safe_url}) is unavailable: "
                                   f"{type(reason).__name__}: {str(reason).strip()}; retry shortly")

    def read(self, unit: Unit[W]) -> W:
        """Run a read, once more on a new connection if the thread's old one had died;
        DatabaseUnavailable if the database cannot answer."""
        for attempt in range(2):
            try:
                return self._in_autocommit(unit)
            except self.outage_errors as e:
                if attempt:
                    raise self._unavailable(e) from e
        raise AssertionError("unreachable")

    def write(self, unit: Unit[W]) -> W:
        """Run `unit(cursor)` in a committed transaction and return its result: the one
        path of every write. An exception from the unit rolls its statements back;
        DatabaseUnavailable if the database cannot take the write (nothing was committed,
        unless the connection died during the commit itself)."""
        if self.group is not None:
            return self._available(lambda: self.group.run(unit))
        return self._available(lambda: self._retrying(lambda: self._in_transaction(unit)))

    def write_statement(self, unit: Unit[W]) -> W:
        """As write(), for a unit of one statement: on PostgreSQL sent alone, in autocommit
        (one round trip); on SQLite through the group commit like any write."""
        if self.group is not None:
            return self.write(unit)
        return self._available(lambda: self._in_autocommit(unit))

    def write_pipelined(self, unit: Unit[Any], result: Unit[W]) -> W:
        """As write(), for a unit that only sends statements and reads none of their
        results: on PostgreSQL BEGIN, the unit's statements and COMMIT go as one pipeline
        (psycopg's pipeline mode, one round trip), so a lock the unit takes is held only
        while the server runs them, never across a round trip; `result(cursor)` then reads
        what the unit's last statement did. On SQLite, write() of the unit and result."""
        if self.group is not None:
            return self.write(lambda cursor: (unit(cursor), result(cursor))[1])
        return self._available(lambda: self._retrying(lambda: self._in_pipeline(unit, result)))

    def _available(self, write: Callable[[], W]) -> W:
        try:
            return write()
        except self.outage_errors as e:
            raise self._unavailable(e) from e

    def _retrying(self, write: Callable[[], W]) -> W:
        serialization_lost = (self.engine.dialect.dbapi.errors.SerializationFailure,
                              self.engine.dialect.dbapi.errors.DeadlockDetected)
        for attempt in range(RETRIES):
            try:
                return write()
            except serialization_lost:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _in_transaction(self, unit: Unit[W]) -> W:
        with self.transaction() as cursor:
            return unit(cursor)

    def _in_autocommit(self, unit: Unit[W]) -> W:
        # Each statement is its own transaction and reads its own snapshot.
        with self._cursor(None, None) as cursor:
            return unit(cursor)

    def _in_pipeline(self, unit: Unit[Any], result: Unit[W]) -> W:
        # The connection is in autocommit, so BEGIN and COMMIT are ours; a failure rolls
        # back in _cursor, after the pipeline has ended (and synced).
        with self._cursor(None, None) as cursor:
            driver = self.local.connection.driver_connection
            with driver.pipeline():
                driver.execute("BEGIN")
                unit(cursor)
                driver.execute("COMMIT")
            return result(cursor)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A transaction on the thread's connection; on SQLite it holds the write lock from
        its first statement (BEGIN IMMEDIATE), so concurrent writers, threads or processes,
        are serialised, not failed. For GroupCommit and migrate(); others call write()."""
        with self.lock if self.sqlite else _nothing(), \
                self._cursor("BEGIN IMMEDIATE" if self.sqlite else "BEGIN", "commit") as cursor:
            yield cursor

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision. One process migrates at a time:
        SQLite's write lock, PostgreSQL's advisory lock (several instances may start at once)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.lock if self.sqlite else _nothing(), self.engine.connect() as conn, conn.begin():
            if self.sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def open(self) -> "Database":
        """Migrate, or DatabaseUnavailable naming the URL (without its password)."""
        try:
            self.migrate()
            if self.clock is not None:
                self.clock.sync()
        except (exc.OperationalError, exc.InterfaceError) as e:
            self.engine.dispose()
            raise self._unavailable(e) from None
        return self

    def now_ms(self) -> int:
        """Milliseconds since the epoch by the database's clock (this machine's for SQLite),
        so that several instances judge TTLs alike however their clocks differ."""
        return self.clock.now_ms() if self.clock is not None else time.time_ns() // 1_000_000

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.release()
        self.engine.dispose()


class DatabaseClock:
    """The database server's time as this instance sees it: asked at start-up and again
    every `resync_seconds`, and carried forward between asks by this machine's monotonic
    clock. So a step of this machine's wall clock (NTP, an administrator) never shifts a
    TTL, and the monotonic clock's drift (parts per million) is corrected within a minute.
    The ask costs one round trip a minute, on whichever call finds it due; if the database
    cannot answer, the last reading is carried forward and asked again a minute later."""

    QUERY = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    def __init__(self, engine: Engine, errors: tuple[type[BaseException], ...],
                 resync_seconds: float = 60.0) -> None:
        self.engine, self.errors = engine, errors
        self.resync_ns = int(resync_seconds * 1e9)
        self.lock = threading.Lock()
        self.anchor = (time.time_ns() // 1_000_000, time.monotonic_ns())  # until the first ask
        self.due_ns = 0

    def sync(self) -> None:
        """Ask the database its time (accurate to half a round trip); raises if it cannot answer."""
        self.due_ns = time.monotonic_ns() + self.resync_ns
        with self.engine.connect() as conn:
            before = time.monotonic_ns()
            db_ms = conn.exec_driver_sql(self.QUERY).scalar_one()
            after = time.monotonic_ns()
        self.anchor = (db_ms, (before + after) // 2)

    def now_ms(self) -> int:
        if time.monotonic_ns() >= self.due_ns and self.lock.acquire(blocking=False):
            try:  # one thread asks; the others carry the last reading forward meanwhile
                with suppress(*self.errors):
                    self.sync()
            finally:
                self.lock.release()
        db_ms, at = self.anchor
        return db_ms + (time.monotonic_ns() - at) // 1_000_000


def open_database(url: str, fsync_each_commit: bool = False, pool_size: int = 16) -> Database:
    """A migrated database, or DatabaseUnavailable naming the URL (without its password)."""
    return Database(url, fsync_each_commit, pool_size).open()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


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


class _Write:
    __slots__ = ("unit", "done", "result", "error")

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs the writes of many threads in as few transactions as the
    load allows (group commit): one writer thread takes every write queued while the
    previous transaction ran and commits them together; each caller returns once its
    own write has committed. Under load this cuts the lock handoffs per write, which
    in one Python process cost far more than the write itself. If a shared transaction
    fails on one write's own account (a constraint, a refusal the write raised), each write
    is retried alone, so a bad write fails only its caller; a failure of the database
    itself fails the whole batch at once."""

    def __init__(self, database: Database, max_batch: int = 64, idle_seconds: float = 1.0) -> None:
        self.database = database
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.database_errors = (database.engine.dialect.dbapi.OperationalError,
                                database.engine.dialect.dbapi.InterfaceError)
        self.queue: "queue.SimpleQueue[_Write]" = queue.SimpleQueue()
        self.writer: threading.Thread | None = None
        self.start_lock = threading.Lock()

    def run(self, unit: Unit[W]) -> W:
        """Run `unit(cursor)`, committed; returns its result."""
        write = _Write(unit)
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
        return write.result

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
                        self.database.release()
                        return
                continue
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get())
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Write]) -> None:
        try:
            self._commit(batch)
        except self.database_errors as e:  # the database's (locked, disk, connection): all fail
            for write in batch:
                write.error = e
        except Exception:  # one write's own fault: the others can still commit
            for write in batch:
                try:
                    self._commit([write])
                except Exception as e:
                    write.error = e
        for write in batch:
            write.done.set()

    def _commit(self, batch: list[_Write]) -> None:
        with self.database.transaction() as cursor:
            for write in batch:
                write.result = write.unit(cursor)
