"""Several stores (as several Valet instances would hold) on one real PostgreSQL."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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


def test_ttl_is_judged_by_the_database_clock(stores):
    """Same machine, so the database's clock and this one agree: a measured offset of more
    than a few ms would be a wrong measurement (units, sign), and it would shift every TTL."""
    database = stores[0].database
    assert abs(database.clock_offset_ms) < 50
    with database.engine.connect() as conn:
        db_ms = conn.exec_driver_sql(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint").scalar_one()
    assert abs(database.now_ms() - db_ms) < 50
