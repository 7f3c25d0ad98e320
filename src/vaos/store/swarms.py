"""Swarm state: swarms, their agent tasks, the tasks' results, and each swarm's mailbox.

Shared by every process that takes part in a swarm (the coordinator and the ``vaos worker``
processes), so on several machines the database is PostgreSQL. Results are stored **once per
task id**: ``record_result`` inserts with ``ON CONFLICT DO NOTHING`` and the first write wins,
so a task redelivered after a worker died, or run twice by two coordinators, never gives two
results. The mailbox message an agent's output makes is written in the same transaction and
is keyed by the same task id.

Plain dicts in and out: the swarm layer (``vaos.swarm``) sits above the store and owns the
meaning of the fields. The tables are created by migration ``0004``; importing this module
registers them on ``vaos.store.models.Base.metadata``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, ParamSpec, TypeVar

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from vaos.store.database import Database
from vaos.store.models import Base, BigIntId, JSONType, UTCDateTime, in_list, utcnow

SWARM_STATUSES: Final = (
    "queued",
    "planning",
    "running",
    "completed",
    "failed",
    "cancelled",
    "timeout",
    "over_budget",
)
FINISHED_SWARM: Final = frozenset({"completed", "failed", "cancelled", "timeout", "over_budget"})
TASK_STATUSES: Final = ("queued", "running", "done", "failed", "cancelled", "skipped")
RESULT_STATUSES: Final = ("done", "failed", "cancelled", "skipped")


class SwarmModel(Base):
    __tablename__ = "swarms"
    __table_args__ = (
        CheckConstraint(in_list("status", SWARM_STATUSES), name="status"),
        Index("ix_swarms_status", "status"),
        Index("ix_swarms_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(Text, nullable=False)
    pattern: Mapped[str] = mapped_column(String(32), nullable=False)
    configuration: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    launched_by: Mapped[str] = mapped_column(String(64), nullable=False)
    coordinator: Mapped[str | None] = mapped_column(String(128), nullable=True)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )


class SwarmTaskModel(Base):
    __tablename__ = "swarm_tasks"
    __table_args__ = (
        CheckConstraint(in_list("status", TASK_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_swarm_tasks_swarm_id_seq", "swarm_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    swarm_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("swarms.id", ondelete="CASCADE"), nullable=False
    )
    step: Mapped[str] = mapped_column(String(64), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    agent_id: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    task: Mapped[str] = mapped_column(Text, nullable=False)
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SwarmResultModel(Base):
    __tablename__ = "swarm_results"
    __table_args__ = (
        CheckConstraint(in_list("status", RESULT_STATUSES), name="status"),
        Index("ix_swarm_results_swarm_id", "swarm_id"),
    )

    task_id: Mapped[str] = mapped_column(
        String(160), ForeignKey("swarm_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    swarm_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("swarms.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )


class SwarmMessageModel(Base):
    __tablename__ = "swarm_messages"
    __table_args__ = (
        Index("ix_swarm_messages_swarm_id_id", "swarm_id", "id"),
        Index("uq_swarm_messages_task_id", "task_id", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    swarm_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("swarms.id", ondelete="CASCADE"), nullable=False
    )
    sender: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    task_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _shielded(method: Callable[_P, Awaitable[_T]]) -> Callable[_P, Awaitable[_T]]:
    """Run the operation to its end even when the caller is cancelled (a swarm being
    cancelled): a unit of work cut in the middle could leave a pooled connection in a bad
    state; the caller still sees its ``CancelledError`` at once."""

    @functools.wraps(method)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        async def operation() -> _T:
            return await method(*args, **kwargs)

        task = asyncio.ensure_future(operation())
        inflight: set[asyncio.Future[Any]] = args[0]._inflight  # type: ignore[attr-defined]
        inflight.add(task)
        task.add_done_callback(inflight.discard)
        return await asyncio.shield(task)

    return run


_SWARM_FIELDS: Final = frozenset(
    {"status", "coordinator", "plan", "result", "error", "cost_usd", "started_at", "finished_at", "meta"}
)


class SwarmStore:
    """Swarm state in a ``Database`` (migrated to ``0004`` or later)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._inflight: set[asyncio.Future[Any]] = set()

    async def drain(self) -> None:
        """Wait for operations still finishing after their caller was cancelled."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)

    def _insert(self, model: type[Base]) -> Any:
        return sqlite_insert(model) if self.db.is_sqlite else pg_insert(model)

    # -- swarms ----------------------------------------------------------------------------

    @_shielded
    async def create_swarm(
        self,
        swarm_id: str,
        *,
        task: str,
        pattern: str,
        launched_by: str,
        limits: Mapping[str, Any],
        configuration: str | None = None,
        status: str = "queued",
        plan: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        row = SwarmModel(
            id=swarm_id,
            task=task,
            pattern=pattern,
            configuration=configuration,
            status=status,
            launched_by=launched_by,
            limits=dict(limits),
            plan=dict(plan) if plan is not None else None,
            meta=dict(meta or {}),
            cost_usd=0.0,
            created_at=utcnow(),
        )
        async with self.db.session() as s:
            s.add(row)
        return _swarm_dict(row)

    @_shielded
    async def get_swarm(self, swarm_id: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            row = await s.get(SwarmModel, swarm_id)
            return _swarm_dict(row) if row is not None else None

    @_shielded
    async def list_swarms(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        query = select(SwarmModel).order_by(SwarmModel.created_at.desc(), SwarmModel.id).limit(limit)
        if status is not None:
            query = query.where(SwarmModel.status == status)
        async with self.db.session() as s:
            return [_swarm_dict(row) for row in (await s.scalars(query)).all()]

    @_shielded
    async def update_swarm(
        self, swarm_id: str, *, only_from: Iterable[str] | None = None, **fields: Any
    ) -> bool:
        """Set ``fields``; with ``only_from``, only while the status is one of those. True when
        a row changed."""
        unknown = set(fields) - _SWARM_FIELDS
        if unknown:
            raise ValueError(f"unknown swarm fields: {sorted(unknown)}")
        if not fields:
            return False
        query = update(SwarmModel).where(SwarmModel.id == swarm_id)
        if only_from is not None:
            query = query.where(SwarmModel.status.in_(tuple(only_from)))
        async with self.db.session() as s:
            result = await s.execute(query.values(**fields))
            return bool(getattr(result, "rowcount", 0))

    @_shielded
    async def swarm_status(self, swarm_id: str) -> str | None:
        async with self.db.session() as s:
            status: str | None = await s.scalar(select(SwarmModel.status).where(SwarmModel.id == swarm_id))
            return status

    # -- tasks -----------------------------------------------------------------------------

    @_shielded
    async def ensure_task(self, task: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert the task unless its id exists; ``(the stored row, whether it was new)``."""
        values = {
            "id": task["id"],
            "swarm_id": task["swarm_id"],
            "step": task["step"],
            "seq": int(task.get("seq", 0)),
            "agent_id": task["agent_id"],
            "role": task["role"],
            "tier": task.get("tier"),
            "task": task["task"],
            "prompt": task["prompt"],
            "status": "queued",
            "attempts": 0,
            "created_at": utcnow(),
        }
        statement = self._insert(SwarmTaskModel).values(**values).on_conflict_do_nothing()
        async with self.db.session() as s:
            inserted = bool(getattr(await s.execute(statement), "rowcount", 0))
            if inserted:
                created = values["created_at"]
                return {
                    **values,
                    "worker": None,
                    "created_at": created.isoformat(),
                    "started_at": None,
                    "finished_at": None,
                }, True
            row = await s.get(SwarmTaskModel, task["id"])
            assert row is not None
            return _task_dict(row), False

    @_shielded
    async def begin_task(self, task_id: str, worker: str) -> tuple[dict[str, Any] | None, int, str | None]:
        """One delivery of a task, in one unit of work: ``(its stored result or None, the
        attempt number, the swarm's status)``. Without a result the delivery is counted
        (attempts + 1, running); with one nothing changes."""
        async with self.db.session() as s:
            found = await s.get(SwarmResultModel, task_id)
            if found is not None:
                return _result_dict(found), 0, None
            await s.execute(
                update(SwarmTaskModel)
                .where(SwarmTaskModel.id == task_id)
                .values(
                    attempts=SwarmTaskModel.attempts + 1,
                    worker=worker,
                    started_at=utcnow(),
                    status=case((SwarmTaskModel.status == "queued", "running"), else_=SwarmTaskModel.status),
                )
            )
            row = (
                await s.execute(
                    select(SwarmTaskModel.attempts, SwarmModel.status)
                    .join(SwarmModel, SwarmModel.id == SwarmTaskModel.swarm_id)
                    .where(SwarmTaskModel.id == task_id)
                )
            ).first()
            if row is None:
                return None, 0, None
            return None, int(row[0]), str(row[1])

    @_shielded
    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            row = await s.get(SwarmTaskModel, task_id)
            return _task_dict(row) if row is not None else None

    @_shielded
    async def tasks(self, swarm_id: str) -> list[dict[str, Any]]:
        query = (
            select(SwarmTaskModel)
            .where(SwarmTaskModel.swarm_id == swarm_id)
            .order_by(SwarmTaskModel.seq, SwarmTaskModel.id)
        )
        async with self.db.session() as s:
            return [_task_dict(row) for row in (await s.scalars(query)).all()]

    # -- results ---------------------------------------------------------------------------

    @_shielded
    async def record_result(
        self,
        task_id: str,
        *,
        status: str,
        output: str | None = None,
        error: str | None = None,
        cost_usd: float = 0.0,
        worker: str | None = None,
        detail: Mapping[str, Any] | None = None,
        post_as: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store the task's result once: ``(the stored result, whether this call stored it)``.

        A later call for the same task id changes nothing and returns the first result. With
        ``post_as`` and a non-empty ``output``, the output is also posted to the swarm's
        mailbox from that sender, in the same transaction.
        """
        async with self.db.session() as s:
            task = await s.get(SwarmTaskModel, task_id)
            if task is None:
                raise KeyError(f"unknown swarm task {task_id!r}")
            now = utcnow()
            statement = (
                self._insert(SwarmResultModel)
                .values(
                    task_id=task_id,
                    swarm_id=task.swarm_id,
                    status=status,
                    output=output,
                    error=error,
                    cost_usd=float(cost_usd or 0.0),
                    worker=worker,
                    recorded_at=now,
                    detail=dict(detail or {}),
                )
                .on_conflict_do_nothing()
            )
            inserted = bool(getattr(await s.execute(statement), "rowcount", 0))
            if inserted:
                await s.execute(
                    update(SwarmTaskModel)
                    .where(SwarmTaskModel.id == task_id)
                    .values(status=status, finished_at=now)
                )
                if post_as and output:
                    await s.execute(
                        self._insert(SwarmMessageModel)
                        .values(
                            swarm_id=task.swarm_id,
                            sender=post_as,
                            body=output,
                            task_id=task_id,
                            created_at=now,
                        )
                        .on_conflict_do_nothing()
                    )
            if inserted:
                return (
                    {
                        "task_id": task_id,
                        "swarm_id": task.swarm_id,
                        "status": status,
                        "output": output,
                        "error": error,
                        "cost_usd": float(cost_usd or 0.0),
                        "worker": worker,
                        "recorded_at": now.isoformat(),
                        "detail": dict(detail or {}),
                    },
                    True,
                )
            row = await s.get(SwarmResultModel, task_id)
            assert row is not None
            return _result_dict(row), inserted

    @_shielded
    async def get_result(self, task_id: str) -> dict[str, Any] | None:
        async with self.db.session() as s:
            row = await s.get(SwarmResultModel, task_id)
            return _result_dict(row) if row is not None else None

    @_shielded
    async def results_for(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(task_ids)
        if not ids:
            return {}
        async with self.db.session() as s:
            rows = (await s.scalars(select(SwarmResultModel).where(SwarmResultModel.task_id.in_(ids)))).all()
            return {row.task_id: _result_dict(row) for row in rows}

    @_shielded
    async def results(self, swarm_id: str) -> list[dict[str, Any]]:
        query = (
            select(SwarmResultModel, SwarmTaskModel.seq)
            .join(SwarmTaskModel, SwarmTaskModel.id == SwarmResultModel.task_id)
            .where(SwarmResultModel.swarm_id == swarm_id)
            .order_by(SwarmTaskModel.seq, SwarmResultModel.task_id)
        )
        async with self.db.session() as s:
            return [_result_dict(row) for row, _ in (await s.execute(query)).all()]

    @_shielded
    async def spent(self, swarm_id: str) -> float:
        async with self.db.session() as s:
            total = await s.scalar(
                select(func.coalesce(func.sum(SwarmResultModel.cost_usd), 0.0)).where(
                    SwarmResultModel.swarm_id == swarm_id
                )
            )
            return float(total or 0.0)

    # -- mailbox ---------------------------------------------------------------------------

    @_shielded
    async def post_message(
        self, swarm_id: str, sender: str, body: str, *, recipient: str | None = None
    ) -> int:
        async with self.db.session() as s:
            row = SwarmMessageModel(
                swarm_id=swarm_id, sender=sender, recipient=recipient, body=body, created_at=utcnow()
            )
            s.add(row)
            await s.flush()
            return int(row.id)

    @_shielded
    async def messages(
        self, swarm_id: str, *, reader: str | None = None, after: int = 0
    ) -> list[dict[str, Any]]:
        """The swarm's messages, oldest first; with ``reader``, only those broadcast or sent to
        it (and not its own)."""
        query = select(SwarmMessageModel).where(
            SwarmMessageModel.swarm_id == swarm_id, SwarmMessageModel.id > after
        )
        if reader is not None:
            query = query.where(
                or_(SwarmMessageModel.recipient.is_(None), SwarmMessageModel.recipient == reader),
                SwarmMessageModel.sender != reader,
            )
        async with self.db.session() as s:
            rows = (await s.scalars(query.order_by(SwarmMessageModel.id))).all()
            return [
                {
                    "seq": row.id,
                    "from": row.sender,
                    "to": row.recipient,
                    "message": row.body,
                    "task_id": row.task_id,
                    "posted_at": row.created_at.isoformat(),
                }
                for row in rows
            ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _swarm_dict(row: SwarmModel) -> dict[str, Any]:
    return {
        "swarm_id": row.id,
        "task": row.task,
        "pattern": row.pattern,
        "configuration": row.configuration,
        "status": row.status,
        "launched_by": row.launched_by,
        "coordinator": row.coordinator,
        "plan": row.plan,
        "limits": dict(row.limits or {}),
        "result": row.result,
        "error": row.error,
        "cost_usd": float(row.cost_usd or 0.0),
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "meta": dict(row.meta or {}),
    }


def _task_dict(row: SwarmTaskModel) -> dict[str, Any]:
    return {
        "id": row.id,
        "swarm_id": row.swarm_id,
        "step": row.step,
        "seq": row.seq,
        "agent_id": row.agent_id,
        "role": row.role,
        "tier": row.tier,
        "task": row.task,
        "prompt": row.prompt,
        "status": row.status,
        "attempts": row.attempts,
        "worker": row.worker,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
    }


def _result_dict(row: SwarmResultModel) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "swarm_id": row.swarm_id,
        "status": row.status,
        "output": row.output,
        "error": row.error,
        "cost_usd": float(row.cost_usd or 0.0),
        "worker": row.worker,
        "recorded_at": _iso(row.recorded_at),
        "detail": dict(row.detail or {}),
    }
