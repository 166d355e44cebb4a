"""Database engine, transactions and migrations.

SQLite by default (WAL journal; synchronous=NORMAL keeps every committed transaction
through a process crash, FULL adds an fsync per commit for power loss), PostgreSQL by URL.
Writes run in `write_transaction`, which on SQLite takes the write lock up front
(BEGIN IMMEDIATE) so concurrent writers, threads or processes, are serialised, not failed.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.sql.expression import Executable

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, fsync_each_commit: bool = False, pool_size: int = 16) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=pool_size, connect_args={"timeout": 30})
    synchronous = "FULL" if fsync_each_commit else "NORMAL"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Autocommit at the driver: transactions are opened by write_transaction only.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


_write_locks: "WeakKeyDictionary[Engine, threading.Lock]" = WeakKeyDictionary()


def _write_lock(engine: Engine) -> threading.Lock:
    return _write_locks.setdefault(engine, threading.Lock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's write lock from its first statement.

    Reads run in SQLite's autocommit mode (each SELECT sees a consistent snapshot); a
    write opens its transaction explicitly with BEGIN IMMEDIATE, so that a
    check-then-insert can never interleave with another writer's. SQLite has one writer at
    a time anyway; threads of one process queue on a lock rather than in SQLite's busy
    handler, which sleeps in steps of milliseconds."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _write_lock(engine), engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


class Prepared:
    """A Core statement compiled once for one engine and run on the driver's own cursor.

    SQLAlchemy's per-execution machinery costs several times what a key lookup in SQLite
    does; the store's hot paths are a few fixed statements on plain column types (no
    result or bind processing needed), so they skip it. Runs inside the SQLAlchemy
    connection's transaction."""

    def __init__(self, engine: Engine, statement: Executable) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positions = compiled.positiontup  # None for named paramstyles (psycopg)

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute with `params` (by bind name); returns the DBAPI cursor."""
        args = params if self.positions is None else [params[n] for n in self.positions]
        cursor = conn.connection.driver_connection.cursor()
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
