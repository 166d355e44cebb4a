"""Several stores (as several Valet instances would hold) on one real PostgreSQL."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from server import db
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


def test_sweeps_of_several_instances_do_not_conflict(stores):
    now = [1_000_000]
    clocked = [KeyValueStore(s.database, s.limits, lambda: now[0]) for s in stores]
    for i in range(LIMIT):
        clocked[0].set(f"ns{i % 4}", f"k{i}", "v", ttl=10)
    now[0] += 20
    with ThreadPoolExecutor(3) as pool:
        swept = list(pool.map(lambda s: s.sweep(), clocked))
    assert sum(swept) == LIMIT  # each expired key deleted once, by whichever instance got it
    clocked[1].set("ns0", "again", "v")  # counts stayed exact


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


def test_an_unreachable_database_at_start_up_names_the_url_without_its_password(cluster):
    url = f"postgresql://valet:s3cret@127.0.0.1:{cluster.port + 1}/valet"
    with pytest.raises(db.DatabaseUnavailable) as e:
        db.open_database(url)
    assert "127.0.0.1" in e.value.message and "s3cret" not in e.value.message


def _database_ms(database) -> int:
    with database.engine.connect() as conn:
        return conn.exec_driver_sql(db.DatabaseClock.QUERY).scalar_one()


def test_ttl_is_judged_by_the_database_clock(stores):
    """Same machine, so the database's clock and this one agree: a reading off by more than
    a few ms would be a wrong measurement (units, sign), and it would shift every TTL."""
    database = stores[0].database
    assert abs(database.now_ms() - _database_ms(database)) < 50


def test_a_step_of_this_machines_wall_clock_does_not_move_ttls(stores, monkeypatch):
    """NTP or an administrator setting one instance's clock an hour ahead after start-up:
    its TTLs are still judged by the database's time (as the other instances judge them)."""
    a, b, _ = stores
    a.set("ns", "short", "v", ttl=60_000)
    real = time.time_ns
    monkeypatch.setattr(db, "time", SimpleNamespace(time_ns=lambda: real() + 3600 * 10**9,
                                                    monotonic_ns=time.monotonic_ns))
    assert abs(a.database.now_ms() - _database_ms(a.database)) < 50
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
    assert abs(database.now_ms() - _database_ms(database)) < 50
