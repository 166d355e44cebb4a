"""The key-value store's rules: what may be stored, for how long, and how much.

Namespaces and keys are any Unicode text within the configured lengths; values are
strings (numbers and booleans are stored as their JSON text, null as ""); a TTL is in
milliseconds, and a key whose `expires_at_ms` has passed is never returned, listed or
counted, whether or not the background sweep has deleted it yet. Every write is atomic
and answered only once committed, through server.db.Database.write (on SQLite concurrent
writes of one process may share a transaction); a new key beyond `maxKeysPerNamespace` is
refused, an overwrite never is. On PostgreSQL the room check and insert of a namespace run
under its advisory lock, so the limit holds across instances; the lock, the upsert and the
COMMIT go as one pipeline, so the lock is held for no round trip. Overwriting a live key
needs neither, so it is tried first, alone (one round trip), and writes to one namespace do
not queue on its lock.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

from sqlalchemy import (BigInteger, Integer, and_, bindparam, delete, exists, func, literal_column, or_,
                        select, update)
from sqlalchemy.dialects import postgresql, sqlite

from server import audit
from server.audit import Caller
from server.db import Database, DatabaseUnavailable, DiskFull, Prepared, Unit, W
from server.models import KeyValue, NamespaceCount

T = KeyValue.__table__
COUNTS = NamespaceCount.__table__
SWEEP_LOCK = 0x56414C4553  # the PostgreSQL advisory lock one sweeping instance holds
MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000  # a hundred years
UPSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


class KvError(Exception):
    """A request the store refuses; `message` says what was wrong and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KvError):
    pass


class NotFound(KvError):
    pass


class NamespaceFull(KvError):
    pass


class StoreUnavailable(KvError):
    """The database is down or cannot take the work now; nothing of the call was stored."""


class StoreFull(StoreUnavailable):
    """The database's disk is full; nothing of the call was stored."""


@dataclass(frozen=True)
class Limits:
    namespace_chars: int = 255
    key_chars: int = 1024
    value_bytes: int = 1024 * 1024
    max_keys_per_namespace: int = 1000


@dataclass(frozen=True)
class Entry:
    namespace: str
    key: str
    value: str
    ttl_ms: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _storable(what: str, s: str) -> None:
    if "\x00" in s:
        raise InvalidInput(f"{what} contains a NUL character, which cannot be stored; remove it")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None


def check_name(what: str, name: Any, max_chars: int) -> str:
    """A namespace or key: non-empty text of at most `max_chars` characters."""
    if not isinstance(name, str):
        raise InvalidInput(f"{what} must be a string, got {type(name).__name__}")
    if name == "":
        raise InvalidInput(f"{what} is empty; give a non-empty {what}")
    if len(name) > max_chars:
        raise InvalidInput(f"{what} is {len(name)} characters long; the limit is {max_chars}")
    _storable(what, name)
    return name


def _number_text(n: int | float) -> str:
    # As JavaScript (and so Butler) writes numbers: 1.0 -> "1", 0.5 -> "0.5".
    if isinstance(n, float) and n.is_integer() and abs(n) < 1e21:
        return str(int(n))
    return repr(n) if isinstance(n, float) else str(n)


def normalize_value(value: Any) -> str:
    """The stored text of a JSON value: strings as they are, numbers and booleans as
    their text, null as ""; objects and arrays are refused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput("value must be a finite number")
        return _number_text(value)
    if isinstance(value, str):
        _storable("value", value)
        return value
    raise InvalidInput("value must be a string, number or boolean; objects and arrays are not "
                       "stored (JSON-encode them into a string first)")


def parse_ttl(ttl: Any) -> int:
    """TTL in ms from a number, a numeric string, "" or None (absent). <= 0 means no
    expiry; fractions are truncated."""
    if ttl is None or ttl == "":
        return 0
    if isinstance(ttl, bool):
        raise InvalidInput("ttl must be a number of milliseconds, got a boolean")
    if isinstance(ttl, str):
        try:
            ttl = float(ttl.strip())
        except ValueError:
            raise InvalidInput(f"ttl must be a number of milliseconds, got {ttl!r}") from None
    if not isinstance(ttl, (int, float)):
        raise InvalidInput(f"ttl must be a number of milliseconds, got {type(ttl).__name__}")
    if isinstance(ttl, float) and not math.isfinite(ttl):
        raise InvalidInput("ttl must be a finite number of milliseconds")
    ms = int(ttl)
    if ms > MAX_TTL_MS:
        raise InvalidInput(f"ttl {ms} ms is more than the maximum of {MAX_TTL_MS} ms (100 years)")
    return max(ms, 0)


def _statements(dialect: str) -> SimpleNamespace:
    """Every query of the store, built once; values are bound at execution."""
    ns, key, now = (bindparam("p_ns", type_=T.c.namespace.type),
                    bindparam("p_key", type_=T.c.key.type), bindparam("p_now", type_=BigInteger))
    live = or_(T.c.expires_at_ms.is_(None), T.c.expires_at_ms > now)
    this_key = and_(T.c.namespace == ns, T.c.key == key)
    row = {"value": bindparam("new_value", type_=T.c.value.type),
           "ttl_ms": bindparam("new_ttl_ms", type_=BigInteger),
           "expires_at_ms": bindparam("new_expires_at_ms", type_=BigInteger), "updated_at_ms": now}
    max_keys = bindparam("p_max_keys", type_=Integer)
    stored = func.coalesce(select(COUNTS.c.stored_keys).where(COUNTS.c.namespace == ns)
                           .scalar_subquery(), literal_column("0"))
    live_keys = select(func.count()).where(T.c.namespace == ns, live).scalar_subquery()
    # Fewer rows than the limit (expired ones included) means room without counting; only
    # a namespace at the limit counts its live keys.
    room = or_(exists().where(this_key, live), stored < max_keys, live_keys < max_keys)
    upsert = UPSERT[dialect](T).from_select([T.c.namespace, T.c.key, *row],
                                            select(ns, key, *row.values()).where(room))
    return SimpleNamespace(
        # One statement, so one transaction: a live key is overwritten in place; a new
        # key, or one that has expired (a reader no longer sees it), is stored only while
        # the namespace has room, expired keys not counting. No row affected: full.
        set=upsert.on_conflict_do_update(index_elements=[T.c.namespace, T.c.key],
                                         set_={c: upsert.excluded[c] for c in row}),
        # A live key's new value in place: no room check needed, so no namespace lock.
        overwrite=update(T).where(this_key, live).values(row),
        get=select(T.c.value, T.c.ttl_ms).where(this_key, live),
        keys=select(T.c.key).where(T.c.namespace == ns, live).order_by(T.c.key),
        namespaces=select(T.c.namespace).where(live).distinct().order_by(T.c.namespace),
        delete_live_key=delete(T).where(this_key, live),
        delete_key=delete(T).where(this_key),
        delete_live_namespace=delete(T).where(T.c.namespace == ns, live),
        delete_namespace=delete(T).where(T.c.namespace == ns),
        sweep=delete(T).where(T.c.expires_at_ms <= now),
    )


class KeyValueStore:
    def __init__(self, database: Database, limits: Limits = Limits(),
                 clock: Callable[[], int] = now_ms) -> None:
        self.database = database
        self.limits = limits
        self.clock = clock
        engine = database.engine
        self.q = SimpleNamespace(**{name: Prepared(engine, statement)
                                    for name, statement in vars(_statements(engine.dialect.name)).items()})
        self.advisory = not database.sqlite  # SQLite's writes are serialised already
        self.audit_deletion = audit.insert_statement(database, audit.KV_DELETIONS)

    def _read(self, unit: Unit[W]) -> W:
        try:
            return self.database.read(unit)
        except DatabaseUnavailable as e:
            raise StoreUnavailable(e.message) from None

    def _commit(self, write: Callable[..., W], *units: Unit[Any]) -> W:
        """`write` (one of the database's write methods) of `units`, its outage a KvError."""
        try:
            return write(*units)
        except DatabaseUnavailable as e:
            raise (StoreFull if isinstance(e, DiskFull) else StoreUnavailable)(e.message) from None

    def _lock_namespaces(self, cursor: Any, namespaces: set[str]) -> None:
        # Sorted, so that two transactions locking the same namespaces cannot deadlock.
        if self.advisory:
            for namespace in sorted(namespaces):
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (namespace,))

    def check_namespace(self, namespace: Any) -> str:
        return check_name("namespace", namespace, self.limits.namespace_chars)

    def check_key(self, key: Any) -> str:
        return check_name("key", key, self.limits.key_chars)

    def _write(self, namespace: str, key: str, value: Any, ttl: Any) -> tuple[Entry, dict[str, Any]]:
        """A key checked against every rule and limit, and its statement's parameters."""
        self.check_namespace(namespace)
        self.check_key(key)
        text = normalize_value(value)
        if len(text.encode("utf-8")) > self.limits.value_bytes:
            raise InvalidInput(f"value is larger than the limit of {self.limits.value_bytes} bytes")
        ttl_ms = parse_ttl(ttl)
        now = self.clock()
        params = {"p_ns": namespace, "p_key": key, "p_now": now, "new_value": text,
                  "new_ttl_ms": ttl_ms, "new_expires_at_ms": now + ttl_ms if ttl_ms > 0 else None,
                  "p_max_keys": self.limits.max_keys_per_namespace}
        return Entry(namespace, key, text, ttl_ms), params

    def _full(self, namespace: str) -> NamespaceFull:
        return NamespaceFull(
            f"namespace {namespace!r} has no room for a new key: it holds the limit of "
            f"{self.limits.max_keys_per_namespace} keys (Butler.keyValueStore."
            f"maxKeysPerNamespace); delete keys or raise the limit")

    def set(self, namespace: str, key: str, value: Any, ttl: Any = None) -> Entry:
        """Store a key (overwriting any old value and TTL)."""
        entry, params = self._write(namespace, key, value, ttl)
        if self.advisory and self._commit(self.database.write_statement,
                                          lambda cursor: self.q.overwrite.run(cursor, params).rowcount):
            return entry

        def upsert(cursor: Any) -> None:
            self._lock_namespaces(cursor, {namespace})
            self.q.set.run(cursor, params)

        if not self._commit(self.database.write_pipelined, upsert, lambda cursor: cursor.rowcount):
            raise self._full(namespace)
        return entry

    def set_many(self, items: list[tuple[str, str, Any, Any]]) -> list[Entry]:
        """Store several keys (namespace, key, value, ttl) all or none: every one is checked
        first, then all are written in one transaction."""
        writes = [self._write(*item) for item in items]
        if not writes:
            return []

        def upsert_all(cursor: Any) -> None:
            self._lock_namespaces(cursor, {entry.namespace for entry, _params in writes})
            for entry, params in writes:
                if not self.q.set.run(cursor, params).rowcount:
                    raise self._full(entry.namespace)  # rolls the whole transaction back

        self._commit(self.database.write, upsert_all)
        return [entry for entry, _params in writes]

    def get(self, namespace: str, key: str) -> Entry | None:
        params = {"p_ns": namespace, "p_key": key, "p_now": self.clock()}
        row = self._read(lambda cursor: self.q.get.run(cursor, params).fetchone())
        return Entry(namespace, key, row[0], row[1]) if row else None

    def keys(self, namespace: str) -> list[str]:
        params = {"p_ns": namespace, "p_now": self.clock()}
        return self._read(lambda cursor: [k for (k,) in self.q.keys.run(cursor, params)])

    def namespaces(self) -> list[str]:
        params = {"p_now": self.clock()}
        return self._read(lambda cursor: [n for (n,) in self.q.namespaces.run(cursor, params)])

    def _delete(self, live: Prepared, every: Prepared, params: dict[str, Any],
                caller: Caller) -> int:
        """Delete what `every` matches and audit it in the same transaction; returns how
        many of those rows were live."""
        def unit(cursor: Any) -> int:
            gone = live.run(cursor, params).rowcount
            every.run(cursor, params)
            self.audit_deletion.run(cursor, audit.kv_deletion_row(
                params["p_now"], caller, params["p_ns"], params.get("p_key"), gone))
            return gone
        return self._commit(self.database.write, unit)

    def delete(self, namespace: str, key: str, caller: Caller = Caller("unknown")) -> None:
        params = {"p_ns": self.check_namespace(namespace), "p_key": self.check_key(key),
                  "p_now": self.clock()}
        if not self._delete(self.q.delete_live_key, self.q.delete_key, params, caller):
            raise NotFound(f"key {key!r} does not exist in namespace {namespace!r}")

    def delete_namespace(self, namespace: str, caller: Caller = Caller("unknown")) -> None:
        params = {"p_ns": self.check_namespace(namespace), "p_now": self.clock()}
        if not self._delete(self.q.delete_live_namespace, self.q.delete_namespace, params, caller):
            raise NotFound(f"namespace {namespace!r} does not exist (it has no keys)")

    def sweep(self) -> int:
        """Delete expired keys; returns how many. Reads never depend on it having run. On
        PostgreSQL one instance sweeps at a time; the others skip their turn."""
        def unit(cursor: Any) -> int:
            if self.advisory:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (SWEEP_LOCK,))
                if not cursor.fetchone()[0]:
                    return 0
            return self.q.sweep.run(cursor, {"p_now": self.clock()}).rowcount
        return self._commit(self.database.write, unit)
