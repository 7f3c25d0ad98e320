"""Frozen copies of stored rows, handed out by the repositories instead of ORM objects."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Self


class RowSnapshot:
    """Mixin for a frozen dataclass whose fields are columns of one model.

    ``from_model`` copies each field from the row by name (``meta`` as a fresh dict);
    ``to_dict`` is JSON-ready: datetimes in ISO 8601, ``meta`` under the key ``metadata``.
    """

    __slots__ = ()

    @classmethod
    def from_model(cls, row: Any) -> Self:
        values = {f.name: getattr(row, f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        if "meta" in values:
            values["meta"] = dict(values["meta"] or {})
        return cls(**cls._clean(values))

    @staticmethod
    def _clean(values: dict[str, Any]) -> dict[str, Any]:
        """Per-model adjustment of the copied values (none by default)."""
        return values

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif f.name == "meta":
                value = dict(value)
            out["metadata" if f.name == "meta" else f.name] = value
        return out
