"""The audit: who started which tasks and who deleted which keys, kept in the database.

Rows are written by the work they record (server.tasks for task starts, server.kv for
deletions, in the deletion's own transaction) and only for requests that reached an endpoint:
a request the gate refuses (401, 403, 429, a bad override) leaves none. `AuditLog` reads them
back for the admin endpoints (server.api.audit): newest first, filtered, paged by row ID.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Table, bindparam, insert, or_, select

from server.db import Database, Prepared
from server.models import KvDeleteAudit, TaskStartAudit

TASK_STARTS: Table = TaskStartAudit.__table__
KV_DELETIONS: Table = KvDeleteAudit.__table__
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Caller:
    """Who asked: the client's address (or `mqtt://broker`, `cli:user`) and the API key's name."""

    address: str
    key_name: str | None = None

    def __str__(self) -> str:
        return f"{self.address} (key {self.key_name})" if self.key_name else self.address


def insert_statement(database: Database, table: Table) -> Prepared:
    """The insert of one row of `table`, every column but the ID bound by name."""
    return Prepared(database.engine, insert(table).values(
        {c.name: bindparam(c.name) for c in table.columns if c.name != "id"}))


def _collect_task_ids(document: Any, found: list[str]) -> None:
    """Each `taskId` text in document order, appended to `found` (one walk, no list per level:
    a start of 1,000 tasks has thousands of nodes)."""
    if isinstance(document, dict):
        task_id = document.get("taskId")
        if isinstance(task_id, str):
            found.append(task_id)
        for value in document.values():
            _collect_task_ids(value, found)
    elif isinstance(document, list):
        for value in document:
            _collect_task_ids(value, found)


def task_ids_text(*documents: Any) -> str:
    """Every task ID asked or answered in the documents (each `taskId` that is a GUID), as
    ` id id … `, which the task filter matches with LIKE."""
    found: list[str] = []
    _collect_task_ids(list(documents), found)
    ids = [i for i in dict.fromkeys(map(str.lower, found)) if GUID.fullmatch(i)]
    return " " + " ".join(ids) + " " if ids else ""


def caller_columns(caller: Caller) -> dict[str, Any]:
    return {"caller": str(caller)[:255], "client_address": caller.address[:255],
            "key_name": caller.key_name}


def kv_deletion_row(at_ms: int, caller: Caller, namespace: str, key: str | None,
                    deleted: int) -> dict[str, Any]:
    return {"at_ms": at_ms, **caller_columns(caller), "namespace": namespace, "key": key,
            "deleted_keys": deleted, "outcome": "deleted" if deleted else "notFound"}


@dataclass(frozen=True)
class AuditQuery:
    """A page of audit rows: newest first, at most `limit`, IDs below `before` (the previous
    page's `nextBefore`); times in ms, `from_ms` inclusive, `to_ms` exclusive."""

    limit: int = 100
    before: int | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    caller: str | None = None  # a client address or an API key's name, exactly
    task_id: str | None = None  # task starts only
    namespace: str | None = None  # deletions only


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _page(self, table: Table, query: AuditQuery, *extra: tuple) -> tuple[list[dict], int | None]:
        """A page of `table` by the query's common filters and `extra` (name, value,
        condition of the bound parameter) ones."""
        c = table.c
        conditions, params = [], {"p_limit": query.limit + 1, "p_offset": 0}
        for name, value, condition in [
                ("p_before", query.before, lambda p: c.id < p),
                ("p_from", query.from_ms, lambda p: c.at_ms >= p),
                ("p_to", query.to_ms, lambda p: c.at_ms < p),
                ("p_caller", query.caller, lambda p: or_(c.client_address == p, c.key_name == p)),
                *extra]:
            if value is not None:
                conditions.append(condition(bindparam(name)))
                params[name] = value
        statement = Prepared(self.database.engine, select(table).where(*conditions)
                             .order_by(c.id.desc()).limit(bindparam("p_limit"))
                             .offset(bindparam("p_offset")))  # SQLite's LIMIT comes with one
        names = [col.name for col in table.columns]
        rows = self.database.read(lambda cursor: statement.run(cursor, params).fetchall())
        page = [dict(zip(names, row)) for row in rows[:query.limit]]
        return page, (page[-1]["id"] if len(rows) > query.limit else None)

    def task_starts(self, query: AuditQuery) -> tuple[list[dict], int | None]:
        # The ID is a GUID (checked by the endpoint), so it holds no LIKE wildcards.
        task = None if query.task_id is None else f"% {query.task_id.lower()} %"
        rows, next_before = self._page(TASK_STARTS, query,
                                       ("p_task", task, TASK_STARTS.c.task_ids.like))
        return [_task_start(row) for row in rows], next_before

    def kv_deletions(self, query: AuditQuery) -> tuple[list[dict], int | None]:
        rows, next_before = self._page(KV_DELETIONS, query, ("p_namespace", query.namespace,
                                                            lambda p: KV_DELETIONS.c.namespace == p))
        return [_kv_deletion(row) for row in rows], next_before


def _who(row: dict) -> dict:
    return {"id": row["id"], "at": iso_ms(row["at_ms"]), "clientAddress": row["client_address"],
            "keyName": row["key_name"]}


def _task_start(row: dict) -> dict:
    return {**_who(row), "entryPoint": row["entry_point"], "request": json.loads(row["request"]),
            "outcome": json.loads(row["outcome"]), "taskIds": row["task_ids"].split()}


def _kv_deletion(row: dict) -> dict:
    return {**_who(row), "namespace": row["namespace"], "key": row["key"],
            "deletedKeys": row["deleted_keys"], "outcome": row["outcome"]}
