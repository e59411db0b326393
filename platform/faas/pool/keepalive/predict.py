"""The next idle time from recent ones, for functions whose idle times mostly lie past the histogram.

The published hybrid policy fits ARIMA there. This is its smallest useful case, an AR(1) model with a mean,
fitted by least squares on the logarithms of the last idle times: a daily job predicts a day, one that
alternates between two gaps predicts the other gap, and a drifting one follows the drift. With fewer than
three idle times it predicts the last one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

HISTORY = 16
"""Idle times the predictor fits on."""


class IdlePredictor:
    __slots__ = ("recent",)

    def __init__(self, history: int = HISTORY):
        self.recent: deque[float] = deque(maxlen=history)

    def add(self, idle_s: float) -> None:
        if idle_s > 0:
            self.recent.append(math.log(idle_s))

    def predict(self) -> float | None:
        """The next idle time in seconds; None before any."""
        return predict_log(self.recent)


def predict_log(logs: Iterable[float]) -> float | None:
    xs = list(logs)
    if not xs:
        return None
    if len(xs) < 3:
        return math.exp(xs[-1])
    mean = sum(xs) / len(xs)
    prev, nxt = xs[:-1], xs[1:]
    num = sum((a - mean) * (b - mean) for a, b in zip(prev, nxt))
    den = sum((a - mean) ** 2 for a in prev)
    phi = max(-1.0, min(1.0, num / den)) if den > 1e-12 else 0.0
    return math.exp(mean + phi * (xs[-1] - mean))
