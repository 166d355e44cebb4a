"""server.db.GroupCommit: writes of many threads committed together, each caller told
its own outcome, on a real SQLite file."""
from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import insert, select

from server import db
from server.kv import KeyValueStore, Limits, NamespaceFull
from server.models import KeyValue

T = KeyValue.__table__


@pytest.fixture
def database(tmp_path):
    database = db.open_database(f"sqlite:///{tmp_path / 'group.sqlite3'}")
    yield database
    database.dispose()


@pytest.fixture
def engine(database):
    return database.engine


def _stored(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(T.c.key, T.c.value)).all())


def _row(key: str, value: str | None = "v") -> dict:
    return {"namespace": "ns", "key": key, "value": value, "ttl_ms": 0, "expires_at_ms": None,
            "updated_at_ms": 0}


def _run_queued(jobs, database):
    """Start every job while the database's write lock is held, so that their writes
    queue up and reach the writer together; returns each job's outcome (its result or
    its exception)."""
    started = threading.Semaphore(0)

    def outcome(job):
        started.release()
        try:
            return job()
        except Exception as e:
            return e

    with ThreadPoolExecutor(len(jobs)) as pool:
        with database.lock:
            futures = [pool.submit(outcome, job) for job in jobs]
            for _ in jobs:
                assert started.acquire(timeout=5)
            time.sleep(0.2)  # from calling run() to queueing the write
        return [f.result() for f in futures]


def test_each_caller_of_a_shared_transaction_gets_its_own_row_count(database, engine):
    store = KeyValueStore(database, Limits(max_keys_per_namespace=5))

    def setter(i):
        return lambda: store.set("ns", f"k{i}", f"v{i}")

    results = _run_queued([setter(i) for i in range(12)], database)
    refused = [r for r in results if isinstance(r, NamespaceFull)]
    assert len(refused) == 7 and len(_stored(engine)) == 5
    stored = _stored(engine)
    for i, result in enumerate(results):
        if not isinstance(result, Exception):
            assert stored[f"k{i}"] == f"v{i}" == result.value


def _inserter(engine):
    statement = db.Prepared(engine, insert(T))
    return lambda row: lambda cursor: statement.run(cursor, row).rowcount


def test_a_failing_write_fails_only_its_own_caller(database, engine):
    writes = db.GroupCommit(database)
    row_insert = _inserter(engine)

    def write(key, value):
        return lambda: writes.run(row_insert(_row(key, value)))

    # value NULL breaks the NOT NULL constraint; "dup" is inserted twice
    jobs = [write("a", "1"), write("b", None), write("c", "3"), write("dup", "4"), write("dup", "5")]
    results = _run_queued(jobs, database)
    assert results[0] == results[2] == 1 and "NOT NULL" in str(results[1])
    # the two "dup" writes reach the writer in either order: the first wins
    first, second = (3, 4) if results[3] == 1 else (4, 3)
    assert results[first] == 1 and "UNIQUE" in str(results[second])
    assert _stored(engine) == {"a": "1", "c": "3", "dup": "45"[first - 3]}


def test_the_writer_thread_ends_when_idle_and_returns_its_connection(database, engine):
    writes = db.GroupCommit(database, idle_seconds=0.05)
    row_insert = _inserter(engine)
    assert writes.run(row_insert(_row("first"))) == 1
    writer = writes.writer
    assert writer is not None and writer.is_alive()
    writer.join(timeout=5)
    assert not writer.is_alive() and writes.writer is None
    assert engine.pool.checkedout() == 0
    assert writes.run(row_insert(_row("second"))) == 1  # a new writer takes over
    assert set(_stored(engine)) == {"first", "second"}


def test_concurrent_writers_from_many_threads_all_commit(database, engine):
    store = KeyValueStore(database, Limits(max_keys_per_namespace=10_000))
    barrier = threading.Barrier(16)

    def worker(t):
        barrier.wait()
        for i in range(50):
            store.set("ns", f"t{t}-{i}", str(i))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(worker, range(16)))
    assert len(_stored(engine)) == 16 * 50


def test_a_failure_of_the_database_fails_the_whole_batch_at_once(database, engine):
    """Not a constraint of one write (which the others survive) but the database's own
    error: every write of the batch fails, none is retried or stored."""
    writes = db.GroupCommit(database)
    good = db.Prepared(engine, insert(T))
    broken = db.Prepared(engine, insert(T))
    broken.sql = broken.sql.replace("kv_entries", "no_such_table")  # an OperationalError
    batch = [db._Write(lambda cursor, s=s, k=k: s.run(cursor, _row(k)).rowcount)
             for s, k in ((good, "a"), (broken, "b"), (good, "c"))]
    writes._run_batch(batch)  # what the writer thread does with the writes it took together
    assert all(isinstance(w.error, sqlite3.OperationalError) and w.done.is_set() for w in batch)
    assert _stored(engine) == {}
