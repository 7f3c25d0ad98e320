"""Swarm state: swarms, swarm_tasks, swarm_results (one per task id), swarm_messages.

Revision ID: 0004
Revises: 0003
Create Date: 2025-11-25

Written by hand to match ``vaos.store.swarms``; the CHECK vocabularies are frozen here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Registers the swarm tables on ``Base.metadata`` (the target of the schema comparison).
import vaos.store.swarms  # noqa: F401

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SWARM_STATUSES = (
    "queued",
    "planning",
    "running",
    "completed",
    "failed",
    "cancelled",
    "timeout",
    "over_budget",
)
TASK_STATUSES = ("queued", "running", "done", "failed", "cancelled", "skipped")
RESULT_STATUSES = ("done", "failed", "cancelled", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()
    )


def _swarm_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["swarm_id"], ["swarms.id"], name=f"fk_{table}_swarm_id_swarms", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "swarms",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("pattern", sa.String(32), nullable=False),
        sa.Column("configuration", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("launched_by", sa.String(64), nullable=False),
        sa.Column("coordinator", sa.String(128), nullable=True),
        sa.Column("plan", _json(), nullable=True),
        sa.Column("limits", _json(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default=sa.text("0")),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.Column("metadata", _json(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("id", name="pk_swarms"),
        sa.CheckConstraint(_in("status", SWARM_STATUSES), name="ck_swarms_status"),
    )
    op.create_index("ix_swarms_status", "swarms", ["status"])
    op.create_index("ix_swarms_created_at", "swarms", ["created_at"])

    op.create_table(
        "swarm_tasks",
        sa.Column("id", sa.String(160), nullable=False),
        sa.Column("swarm_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(16), nullable=True),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("worker", sa.String(128), nullable=True),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_swarm_tasks"),
        _swarm_fk("swarm_tasks"),
        sa.CheckConstraint(_in("status", TASK_STATUSES), name="ck_swarm_tasks_status"),
        sa.CheckConstraint("attempts >= 0", name="ck_swarm_tasks_attempts"),
    )
    op.create_index("ix_swarm_tasks_swarm_id_seq", "swarm_tasks", ["swarm_id", "seq"])

    op.create_table(
        "swarm_results",
        sa.Column("task_id", sa.String(160), nullable=False),
        sa.Column("swarm_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("worker", sa.String(128), nullable=True),
        _timestamp("recorded_at"),
        sa.Column("detail", _json(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("task_id", name="pk_swarm_results"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["swarm_tasks.id"], name="fk_swarm_results_task_id_swarm_tasks", ondelete="CASCADE"
        ),
        _swarm_fk("swarm_results"),
        sa.CheckConstraint(_in("status", RESULT_STATUSES), name="ck_swarm_results_status"),
    )
    op.create_index("ix_swarm_results_swarm_id", "swarm_results", ["swarm_id"])

    op.create_table(
        "swarm_messages",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("swarm_id", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("task_id", sa.String(160), nullable=True),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_swarm_messages"),
        _swarm_fk("swarm_messages"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_swarm_messages_swarm_id_id", "swarm_messages", ["swarm_id", "id"])
    op.create_index("uq_swarm_messages_task_id", "swarm_messages", ["task_id"], unique=True)


def downgrade() -> None:
    op.drop_table("swarm_messages")
    op.drop_table("swarm_results")
    op.drop_table("swarm_tasks")
    op.drop_table("swarms")
