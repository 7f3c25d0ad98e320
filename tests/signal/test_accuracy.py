"""Accuracy of the deterministic classifier on the labelled set in tests/data/.

The set was labelled from docs/signal-taxonomy.md without reading the classifier. The floors
sit a little under the measured figures so that a regression fails the build; the report is
printed with -s (and in the README).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from vaos.signal import classify

LABELLED = Path(__file__).parent.parent / "data" / "signals_labelled.jsonl"
FLOORS = {"mode": 0.72, "genre": 0.88, "type": 0.78, "format": 0.92, "noise": 0.92}
BAND_ORDER = {"noise": 0, "low": 1, "mid": 2, "high": 3}
PAIRWISE_FLOOR = 0.89


def _rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_is_large_and_varied() -> None:
    rows = _rows()
    assert len(rows) >= 150
    assert {"en", "es", "de", "fr"} <= {r["lang"] for r in rows}
    assert len({r["kind"] for r in rows}) >= 15


def test_per_dimension_accuracy() -> None:
    rows = _rows()
    hits: Counter[str] = Counter()
    for row in rows:
        signal = classify(row["text"])
        for dim in ("mode", "genre", "type", "format"):
            hits[dim] += getattr(signal, dim) == row[dim]
        hits["noise"] += signal.noise.verdict == row["noise"]
    accuracy = {dim: hits[dim] / len(rows) for dim in FLOORS}
    print("\nlabelled-set accuracy:", {k: round(v, 3) for k, v in accuracy.items()})
    for dim, floor in FLOORS.items():
        assert accuracy[dim] >= floor, f"{dim} accuracy {accuracy[dim]:.3f} under {floor}"


def test_weight_ranks_bands() -> None:
    """Pairs of messages from different bands: how often the weight orders them right."""
    scored = [(BAND_ORDER[r["band"]], classify(r["text"]).weight) for r in _rows()]
    right = pairs = 0.0
    for band_a, weight_a in scored:
        for band_b, weight_b in scored:
            if band_a < band_b:
                pairs += 1
                right += 1.0 if weight_a < weight_b else 0.5 if weight_a == weight_b else 0.0
    concordance = right / pairs
    print(f"\nweight/band concordance: {concordance:.3f}")
    assert concordance >= PAIRWISE_FLOOR


@pytest.mark.parametrize("band", ["noise", "low", "mid", "high"])
def test_band_medians_are_ordered(band: str) -> None:
    rows = _rows()
    medians = {}
    for name in BAND_ORDER:
        weights = sorted(classify(r["text"]).weight for r in rows if r["band"] == name)
        medians[name] = weights[len(weights) // 2]
    ordered = [medians[name] for name in BAND_ORDER]
    assert ordered == sorted(ordered), medians
