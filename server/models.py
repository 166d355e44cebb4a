"""The database schema (SQLAlchemy 2 declarative models). Alembic migrations in
server/migrations/ create and version it; keep to portable SQL (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class KeyValue(Base):
    """One key of the key-value store. Times are milliseconds since the Unix epoch."""

    __tablename__ = "kv_entries"

    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    ttl_ms: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # NULL: never expires.
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_kv_entries_expires_at_ms", "expires_at_ms"),)


class NamespaceCount(Base):
    """How many rows (live or expired, not yet swept) each namespace holds, kept exact by
    triggers on kv_entries (migration k16a), so a new key's room check need not count."""

    __tablename__ = "kv_namespace_counts"

    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    stored_keys: Mapped[int] = mapped_column(Integer, nullable=False)


class TaskStartAudit(Base):
    """One task-start request: who asked, what was asked, what matched, the outcome."""

    __tablename__ = "task_start_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    caller: Mapped[str] = mapped_column(String(255), nullable=False)  # address (key name), as logged
    client_address: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)  # NULL: no API key
    entry_point: Mapped[str] = mapped_column(String(32), nullable=False)
    request: Mapped[str] = mapped_column(Text, nullable=False)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    # " id id … ": every task ID asked or answered, for the audit's task filter (migration k12b)
    task_ids: Mapped[str] = mapped_column(Text, nullable=False, server_default="")

    __table_args__ = (Index("ix_task_start_audit_at_ms", "at_ms"),)


class KvDeleteAudit(Base):
    """One deletion of a key or a namespace (`key` NULL) that reached the store."""

    __tablename__ = "kv_delete_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    caller: Mapped[str] = mapped_column(String(255), nullable=False)
    client_address: Mapped[str] = mapped_column(String(255), nullable=False)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    namespace: Mapped[str] = mapped_column(String(255), nullable=False)
    key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    deleted_keys: Mapped[int] = mapped_column(Integer, nullable=False)  # live keys deleted
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)  # deleted | notFound

    __table_args__ = (Index("ix_kv_delete_audit_at_ms", "at_ms"),)
