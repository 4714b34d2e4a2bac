"""Small statistics over timing samples (seconds in, milliseconds out)."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: always a value that was observed)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples: list[float]) -> dict[str, Any]:
    """Median, p95, min and max of ``samples`` (seconds), in milliseconds."""
    if not samples:
        return {"n": 0, "median_ms": None, "p95_ms": None, "min_ms": None, "max_ms": None}
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
        "min_ms": round(min(samples) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)
