"""Database engine, transactions and migrations.

SQLite by default (WAL journal; synchronous=NORMAL keeps every committed transaction
through a process crash, FULL adds an fsync per commit for power loss), PostgreSQL by URL.
Writes run in `write_transaction` (or `DriverConnections.writing`), which on SQLite
takes the write lock up front (BEGIN IMMEDIATE) so concurrent writers, threads or
processes, are serialised, not failed.
"""
from __future__ import annotations

import os
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
    def writing(self, single_statement: bool = False) -> Iterator[Any]:
        """A transaction holding the write lock (see write_transaction). On SQLite, a
        `single_statement` runs as its own transaction, with no BEGIN and COMMIT round
        trips while the lock is held."""
        if not self.sqlite:
            with self._transaction() as cursor:
                yield cursor
            return
        begin = None if single_statement else "BEGIN IMMEDIATE"
        with _write_locks[self.engine], self._transaction(begin) as cursor:
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
