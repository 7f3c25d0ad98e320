"""Classified signals: validated records, storage, queries and statistics."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from vaos.store.database import Database
from vaos.store.models import (
    INPUT_PREVIEW_CHARS,
    MODES,
    TIERS,
    Classifier,
    Confidence,
    Format,
    Genre,
    Mode,
    NoiseVerdict,
    SignalModel,
    SignalType,
    Tier,
    utcnow,
)
from vaos.store.sessions import check_page, check_session_id
from vaos.store.snapshots import RowSnapshot
from vaos.tiers import tier_for_weight

_ENUM_FIELDS = ("mode", "genre", "type", "format", "tier", "confidence", "classifier", "noise_verdict")


class SignalRecord(BaseModel):
    """One signal as it is stored, validated. Build it with ``SignalRecord.from_dict``.

    ``tier`` is derived from ``weight`` when not given; ``input_preview`` keeps the first
    200 characters of whatever it is given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    channel: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    mode: Mode
    genre: Genre
    type: SignalType = "general"
    format: Format
    weight: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]
    tier: Tier | None = None
    confidence: Confidence = "high"
    classifier: Classifier = "deterministic"
    noise_verdict: NoiseVerdict = "pass"
    intent_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    input_preview: str | None = None
    session_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict, alias="metadata")

    @field_validator(*_ENUM_FIELDS, mode="before")
    @classmethod
    def _enum_value(cls, value: Any) -> Any:
        return value.value if isinstance(value, enum.Enum) else value

    @field_validator("input_preview")
    @classmethod
    def _preview(cls, value: str | None) -> str | None:
        return None if value is None else value[:INPUT_PREVIEW_CHARS]

    @field_validator("session_id")
    @classmethod
    def _session_id(cls, value: str | None) -> str | None:
        return None if value is None else check_session_id(value)

    def model_post_init(self, context: Any, /) -> None:
        if self.tier is None:
            object.__setattr__(self, "tier", tier_for_weight(self.weight))

    @property
    def resolved_tier(self) -> Tier:
        return self.tier or tier_for_weight(self.weight)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignalRecord:
        """Validate a plain dict: the columns of ``signals`` or the signal object of
        INTERFACES.md section 4 (``noise: {verdict, reply}``), plus optional ``session_id``,
        ``channel``, ``input`` (the message text, kept as the preview) and ``metadata``.

        Raises ``ValueError`` naming the first bad field. Unknown keys are refused.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a signal must be a mapping, got {type(data).__name__}")
        fields = dict(data)
        noise = fields.pop("noise", None)
        if noise is not None:
            if not isinstance(noise, Mapping) or "verdict" not in noise:
                raise ValueError("invalid signal: noise must be an object with a verdict")
            verdict = noise["verdict"]
            if fields.setdefault("noise_verdict", verdict) != verdict:
                raise ValueError("invalid signal: noise.verdict and noise_verdict disagree")
        if "input" in fields:
            text = fields.pop("input")
            if text is not None and not isinstance(text, str):
                raise ValueError("invalid signal: input must be a string")
            fields.setdefault("input_preview", text)
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ValueError(f"invalid signal: {_describe(exc)}") from None

    def column_values(self) -> dict[str, Any]:
        """The values for a ``signals`` row."""
        values = self.model_dump(exclude={"tier"})
        values["tier"] = self.resolved_tier
        return values


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "signal"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class StoredSignal(RowSnapshot):
    id: int
    session_id: str | None
    channel: str
    mode: str
    genre: str
    type: str
    format: str
    weight: float
    tier: str
    confidence: str
    classifier: str
    noise_verdict: str
    intent_hash: str | None
    input_preview: str | None
    created_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _clean(values: dict[str, Any]) -> dict[str, Any]:
        if values["intent_hash"]:
            values["intent_hash"] = values["intent_hash"].strip()  # CHAR(64) may come back padded
        return values


class SignalStats(TypedDict):
    total: int
    avg_weight: float
    by_mode: dict[str, int]
    by_tier: dict[str, int]


def _filters(mode: str | None, tier: str | None, session_id: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
        conditions.append(SignalModel.mode == mode)
    if tier is not None:
        if tier not in TIERS:
            raise ValueError(f"invalid tier {tier!r}: expected one of {', '.join(TIERS)}")
        conditions.append(SignalModel.tier == tier)
    if session_id is not None:
        conditions.append(SignalModel.session_id == check_session_id(session_id))
    return conditions


class SignalStore:
    """Store and query classified signals. Every method is one transaction; input is
    validated before the database is touched, and a refused insert changes nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, signal: SignalRecord | Mapping[str, Any]) -> StoredSignal:
        """Store one signal (a ``SignalRecord`` or a plain dict for ``SignalRecord.from_dict``).

        ``ValueError`` for invalid fields or a ``session_id`` with no session.
        """
        record = signal if isinstance(signal, SignalRecord) else SignalRecord.from_dict(signal)
        row = SignalModel(**record.column_values(), created_at=utcnow())
        try:
            async with self.db.session() as s:
                s.add(row)
        except IntegrityError as exc:
            if record.session_id is not None:
                raise ValueError(f"invalid signal: unknown session {record.session_id!r}") from exc
            raise ValueError(f"invalid signal: refused by the database: {exc.orig}") from exc
        return StoredSignal.from_model(row)

    async def get(self, signal_id: int) -> StoredSignal | None:
        async with self.db.session() as s:
            row = await s.get(SignalModel, signal_id)
            return None if row is None else StoredSignal.from_model(row)

    async def list_signals(
        self,
        *,
        mode: str | None = None,
        tier: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[StoredSignal]:
        """Signals matching every filter given, newest first."""
        check_page(limit, offset)
        query = (
            select(SignalModel)
            .where(*_filters(mode, tier, session_id))
            .order_by(SignalModel.created_at.desc(), SignalModel.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.db.session() as s:
            rows = await s.scalars(query)
            return [StoredSignal.from_model(row) for row in rows]

    async def count(
        self, *, mode: str | None = None, tier: str | None = None, session_id: str | None = None
    ) -> int:
        query = select(func.count()).select_from(SignalModel).where(*_filters(mode, tier, session_id))
        async with self.db.session() as s:
            return int(await s.scalar(query) or 0)

    async def stats(self, *, session_id: str | None = None) -> SignalStats:
        """``{total, avg_weight (3 dp, 0.0 when empty), by_mode, by_tier}``; every known
        mode and tier is present in the breakdowns, with 0 when unused."""
        conditions = _filters(None, None, session_id)
        async with self.db.session() as s:
            total, avg = (
                await s.execute(
                    select(func.count(), func.avg(SignalModel.weight))
                    .select_from(SignalModel)
                    .where(*conditions)
                )
            ).one()
            by_mode = dict.fromkeys(MODES, 0)
            for mode, n in await s.execute(
                select(SignalModel.mode, func.count()).where(*conditions).group_by(SignalModel.mode)
            ):
                by_mode[mode] = int(n)
            by_tier = dict.fromkeys(TIERS, 0)
            for tier, n in await s.execute(
                select(SignalModel.tier, func.count()).where(*conditions).group_by(SignalModel.tier)
            ):
                by_tier[tier] = int(n)
        return {
            "total": int(total),
            "avg_weight": round(float(avg), 3) if avg is not None else 0.0,
            "by_mode": by_mode,
            "by_tier": by_tier,
        }
