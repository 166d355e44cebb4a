"""Several stores (as several Valet instances would hold) on one real PostgreSQL."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import psycopg
import pytest

from benchmarks import delay_proxy
from server import db, kv
from server.kv import KeyValueStore, Limits, NamespaceFull, StoreUnavailable

LIMIT = 20


@pytest.fixture
def stores(pg_url):
    databases = [db.open_database(pg_url) for _ in range(3)]  # migrate three times: idempotent
    yield [KeyValueStore(d, Limits(max_keys_per_namespace=LIMIT)) for d in databases]
    for d in databases:
        d.dispose()


def test_a_write_on_one_instance_is_read_on_another_at_once(stores):
    a, b, _ = stores
    a.set("ns", "k", "v1")
    assert b.get("ns", "k").value == "v1"
    b.delete("ns", "k")
    assert a.get("ns", "k") is None


def test_the_key_limit_holds_under_concurrent_new_keys_from_several_instances(stores):
    """READ COMMITTED alone lets two inserts both see room for the last key; the per-
    namespace advisory lock must not. 160 new keys race for 20 places from 3 stores."""
    barrier = threading.Barrier(16)

    def insert(i):
        if i < 16:
            barrier.wait()
        try:
            stores[i % 3].set("full", f"k{i}", "v")
            return True
        except NamespaceFull:
            return False

    with ThreadPoolExecutor(16) as pool:
        stored = list(pool.map(insert, range(160)))
    assert stored.count(True) == LIMIT == len(stores[0].keys("full"))


def test_new_keys_into_one_namespace_hold_its_lock_for_no_round_trip(cluster, pg_url):
    """Each round trip to the database made 300 ms longer (a database on another machine;
    long, so that a slow machine's own delays stay small beside it), 8 threads storing a new
    key each into one namespace at once: the namespace lock, the upsert and the COMMIT go as
    one pipeline, so the writers queue for the lock only while the server runs them, and
    every one is answered within 5 round trips (2 each: the overwrite that finds no key,
    then the pipeline; 2.1 measured at a load average of 7). With the three sent one by
    one, the lock held across two round trips, the last was answered after 21 (4.2 s at
    200 ms); held across one, it would take 10."""
    round_trip, writers = 0.3, 8
    db.open_database(pg_url).dispose()  # the schema, migrated without the delay
    with delay_proxy.running(cluster.port, round_trip * 1000) as port:
        database = db.Database(pg_url.replace(f":{cluster.port}/", f":{port}/"))
        store = KeyValueStore(database, Limits(max_keys_per_namespace=LIMIT))
        barrier, took = threading.Barrier(writers), []

        def writer(i: int) -> None:
            store.set("one", f"warm{i}", "v")  # this thread's connection, made through the proxy
            barrier.wait()
            start = time.monotonic()
            store.set("one", f"k{i}", "v")
            took.append(time.monotonic() - start)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store.keys("one")) == 2 * writers
        database.dispose()
    assert len(took) == writers
    assert max(took) < 5 * round_trip, sorted(round(t, 2) for t in took)


def test_sweeps_of_several_instances_do_not_conflict(stores, pg_url):
    """Sweeping at once, each expired key is deleted once; and (whatever the timing, which
    decides whether three sweeps overlap) while one instance sweeps, another skips its turn
    rather than waiting for it or deleting the same rows."""
    now = [1_000_000]
    clocked = [KeyValueStore(s.database, s.limits, lambda: now[0]) for s in stores]
    for i in range(LIMIT):
        clocked[0].set(f"ns{i % 4}", f"k{i}", "v", ttl=10)
    now[0] += 20
    with ThreadPoolExecutor(3) as pool:
        swept = list(pool.map(lambda s: s.sweep(), clocked))
    assert sum(swept) == LIMIT  # each expired key deleted once, by whichever instance got it
    clocked[1].set("ns0", "again", "v")  # counts stayed exact
    clocked[0].set("ns0", "expiring", "v", ttl=10)
    now[0] += 20
    with psycopg.connect(pg_url, autocommit=True) as sweeping:  # another instance's sweep
        sweeping.execute("SELECT pg_advisory_lock(%s)", (kv.SWEEP_LOCK,))
        assert clocked[1].sweep() == 0
        # Released here: a closed connection's backend lets go of its locks only once it exits.
        sweeping.execute("SELECT pg_advisory_unlock(%s)", (kv.SWEEP_LOCK,))
    assert clocked[1].sweep() == 1


def test_an_outage_answers_unavailable_and_recovers_without_restart(cluster, stores):
    a = stores[0]
    a.set("ns", "before", "v")
    cluster.stop()
    try:
        with pytest.raises(StoreUnavailable) as e:
            a.get("ns", "before")
        assert "unavailable" in e.value.message and "127.0.0.1" in e.value.message
        with pytest.raises(StoreUnavailable):
            a.set("ns", "during", "v")
        a.database.clock.due_ns = 0  # its clock's ask due: the last reading carries on
        assert abs(a.database.now_ms() - time.time_ns() // 10**6) < 1000
    finally:
        cluster.start()
    assert a.get("ns", "before").value == "v"  # the same store, its connections renewed
    a.set("ns", "after", "v")
    assert stores[1].keys("ns") == ["after", "before"]


def _terminate_backend_of(database, url: str) -> None:
    """Drop the calling thread's connection from the server's side, as a restart would."""
    pid = database.read(lambda cursor: cursor.execute("SELECT pg_backend_pid()").fetchone()[0])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits until it has exited


def test_a_pipelined_write_that_fails_leaves_nothing_behind(pg_url, stores):
    """A statement's failure inside the pipeline (lock, failing statement, COMMIT) rolls
    back and releases the lock on the same connection; a connection dropped by the server
    answers unavailable, and the next write gets a new one."""
    database = stores[0].database
    advisory_locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"

    def failing(cursor):
        cursor.execute("SELECT pg_advisory_xact_lock(42)")
        cursor.execute("INSERT INTO kv_namespace_counts VALUES ('x', 1)")
        cursor.execute("SELECT 1 / 0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        database.write_pipelined(failing, lambda cursor: cursor.rowcount)
    assert database.read(lambda cursor: cursor.execute(advisory_locks).fetchone()[0]) == 0
    assert database.read(lambda cursor: cursor.execute(
        "SELECT count(*) FROM kv_namespace_counts WHERE namespace = 'x'").fetchone()[0]) == 0
    _terminate_backend_of(database, pg_url)
    with pytest.raises(db.DatabaseUnavailable):
        database.write_pipelined(failing, lambda cursor: cursor.rowcount)
    assert database.write_pipelined(lambda cursor: cursor.execute("SELECT 1"),
                                    lambda cursor: cursor.fetchone()[0]) == 1


def test_an_unreachable_database_at_start_up_names_the_url_without_its_password(cluster):
    url = f"postgresql://valet:s3cret@127.0.0.1:{cluster.port + 1}/valet"
    with pytest.raises(db.DatabaseUnavailable) as e:
        db.open_database(url)
    assert "127.0.0.1" in e.value.message and "s3cret" not in e.value.message


def _off_ms(database) -> int:
    """How far the database's clock is from `database.now_ms()`: 0 when its reading falls
    between two readings of now_ms() taken just around the query, on a connection made
    before, so that a slow machine's connect (a new backend) is not counted as the clock's error."""
    with database.engine.connect() as conn:
        before = database.now_ms()
        db_ms = conn.exec_driver_sql(db.DatabaseClock.QUERY).scalar_one()
        after = database.now_ms()
    return max(before - db_ms, db_ms - after, 0)


def test_ttl_is_judged_by_the_database_clock(stores):
    """Same machine, so the database's clock and this one agree: a reading off by more than
    half a round trip would be a wrong measurement (units, sign), and it would shift every TTL."""
    assert _off_ms(stores[0].database) < 50


def test_a_step_of_this_machines_wall_clock_does_not_move_ttls(stores, monkeypatch):
    """NTP or an administrator setting one instance's clock an hour ahead after start-up:
    its TTLs are still judged by the database's time (as the other instances judge them)."""
    a, b, _ = stores
    a.set("ns", "short", "v", ttl=60_000)
    real = time.time_ns
    monkeypatch.setattr(db, "time", SimpleNamespace(time_ns=lambda: real() + 3600 * 10**9,
                                                    monotonic_ns=time.monotonic_ns))
    assert _off_ms(a.database) < 50
    assert a.get("ns", "short").value == "v"  # an hour ahead, it would have expired
    a.set("ns", "later", "v", ttl=60_000)
    assert b.get("ns", "later").value == "v"  # stored as expiring in a minute, not an hour ago


def test_the_database_clock_is_asked_again(stores, monkeypatch):
    """Between asks the time is carried forward by this machine's monotonic clock; one that
    ran 10 s fast is corrected at the next ask (due every `resync_seconds`, here in 0.2 s)."""
    database = stores[0].database
    database.clock.due_ns = time.monotonic_ns() + 200_000_000
    real = time.monotonic_ns
    monkeypatch.setattr(db, "time", SimpleNamespace(time_ns=time.time_ns,
                                                    monotonic_ns=lambda: real() + 10 * 10**9))
    assert _off_ms(database) < 50
