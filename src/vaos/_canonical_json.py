"""Canonical JSON (RFC 8785 style): the one byte form that hashes and signatures cover.

Objects with keys sorted by UTF-16 code units, no insignificant whitespace, strings with
minimal escaping, integers as integers, finite floats in their shortest round-trip form
(ECMAScript number formatting), UTF-8 output. NaN and infinities are refused.
"""

from __future__ import annotations

import json
import math
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` canonically; raises ``ValueError`` for what JSON cannot express."""
    return "".join(_encode(value)).encode("utf-8")


def _encode(value: Any) -> list[str]:
    out: list[str] = []
    _write(value, out)
    return out


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        _write_object(value, out)
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise ValueError(f"cannot encode {type(value).__name__} as canonical JSON")


def _write_object(value: dict[Any, Any], out: list[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise ValueError(f"object keys must be strings, got {type(key).__name__}")
    out.append("{")
    for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
        if i:
            out.append(",")
        out.append(json.dumps(key, ensure_ascii=False))
        out.append(":")
        _write(value[key], out)
    out.append("}")


def _number(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError("NaN and infinity have no canonical JSON form")
    if x == 0:
        return "0"
    text = repr(x)  # shortest round-trip digits, as ECMAScript uses
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if not -7 < exp < 21:
        return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    point = 1 + exp
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    if point <= 0:
        return sign + "0." + "0" * -point + digits
    return sign + digits[:point] + "." + digits[point:]
