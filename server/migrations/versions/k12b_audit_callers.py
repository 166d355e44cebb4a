"""The audit's own columns for who asked (client address, API key name) and which tasks, and
the audit of key-value deletions (issue 12b).

Revision ID: k12b
Revises: k16a
"""
import json

import sqlalchemy as sa
from alembic import op

from server.audit import task_ids_text

revision = "k12b"
down_revision = "k16a"
branch_labels = None
depends_on = None


def _split_caller(caller: str) -> tuple[str, str | None]:
    """`127.0.0.1 (key etl)` -> ("127.0.0.1", "etl"), as the gate wrote it before this revision."""
    address, marker, rest = caller.partition(" (key ")
    return (address, rest[:-1]) if marker and rest.endswith(")") else (caller, None)


def _backfill(bind) -> None:
    audit = sa.table("task_start_audit", sa.column("id"), sa.column("caller"),
                     sa.column("request"), sa.column("outcome"), sa.column("client_address"),
                     sa.column("key_name"), sa.column("task_ids"))
    for row in bind.execute(sa.select(audit.c.id, audit.c.caller, audit.c.request,
                                      audit.c.outcome)).fetchall():
        address, key_name = _split_caller(row.caller)
        documents = []
        for text in (row.request, row.outcome):
            try:
                documents.append(json.loads(text))
            except ValueError:
                pass
        bind.execute(audit.update().where(audit.c.id == row.id).values(
            client_address=address, key_name=key_name, task_ids=task_ids_text(*documents)))


def upgrade() -> None:
    op.add_column("task_start_audit", sa.Column("client_address", sa.String(255), nullable=False,
                                                server_default=""))
    op.add_column("task_start_audit", sa.Column("key_name", sa.String(255), nullable=True))
    op.add_column("task_start_audit", sa.Column("task_ids", sa.Text(), nullable=False,
                                                server_default=""))
    op.create_index("ix_task_start_audit_at_ms", "task_start_audit", ["at_ms"])
    _backfill(op.get_bind())
    op.create_table(
        "kv_delete_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("caller", sa.String(255), nullable=False),
        sa.Column("client_address", sa.String(255), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=True),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("key", sa.String(1024), nullable=True),
        sa.Column("deleted_keys", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
    )
    op.create_index("ix_kv_delete_audit_at_ms", "kv_delete_audit", ["at_ms"])


def downgrade() -> None:
    op.drop_index("ix_kv_delete_audit_at_ms", "kv_delete_audit")
    op.drop_table("kv_delete_audit")
    op.drop_index("ix_task_start_audit_at_ms", "task_start_audit")
    with op.batch_alter_table("task_start_audit") as batch:  # SQLite: rebuilds the table
        batch.drop_column("task_ids")
        batch.drop_column("key_name")
        batch.drop_column("client_address")
