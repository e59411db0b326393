"""The hybrid histogram policy of Shahrad et al., "Serverless in the Wild" (USENIX ATC '20), as published:
the baseline the platform's own policy must beat in `scripts/replay`.

Per function version, a histogram of idle times in 1-minute bins over 4 hours:
- more than half of the idle times out of bounds: predict the next idle time from recent ones (the paper fits
  ARIMA; here an AR(1) model, `predict.py`) and load the container 15 % before it, until 15 % after it;
- at most 10 idle times, or a coefficient of variation of the bin counts below 2 (no pattern): keep the
  container loaded for the whole range of the histogram, 4 hours;
- otherwise pre-warm at 0.9 x the 5th percentile (the head) and keep alive until 1.1 x the 99th (the tail).
  A head in the first bin means no pre-warm: the container stays loaded from the end of the invocation.
The head is the lower edge of its bin and the tail the upper edge of its bin, so that the window covers
both percentiles whole.
"""

from __future__ import annotations

from .decision import Decision, Rule
from .histogram import IdleHistogram, linear_edges
from .predict import IdlePredictor

BIN_S = 60.0
SPAN_S = 4 * 3600.0
HEAD_PERCENTILE = 5
TAIL_PERCENTILE = 99
MARGIN = 0.10
"""The head is lowered and the tail raised by this fraction."""
CV_THRESHOLD = 2.0
MIN_SAMPLES = 10
"""At most this many idle times: not representative yet."""
OUT_OF_BOUNDS_SHARE = 0.5
PREDICTION_MARGIN = 0.15


class Hybrid:
    __slots__ = ("histogram", "predictor")

    def __init__(self) -> None:
        self.histogram = IdleHistogram(linear_edges(BIN_S, SPAN_S))
        self.predictor = IdlePredictor()

    def observe(self, idle_s: float) -> None:
        self.histogram.add(idle_s)
        self.predictor.add(idle_s)

    def decide(self) -> Decision:
        h = self.histogram
        n = h.samples
        if n and h.out_of_bounds > n * OUT_OF_BOUNDS_SHARE:
            predicted = self.predictor.predict()
            if predicted is not None:
                return Decision(predicted * (1 - PREDICTION_MARGIN), predicted * (1 + PREDICTION_MARGIN), n,
                                Rule.PREDICTED)
        if n <= MIN_SAMPLES:
            return Decision(0.0, h.span, n, Rule.LEARNING)
        if h.cv() < CV_THRESHOLD:
            return Decision(0.0, h.span, n, Rule.UNREPRESENTATIVE)
        head = h.lower_edge(h.percentile_bin(HEAD_PERCENTILE)) * (1 - MARGIN)
        tail = h.edges[h.percentile_bin(TAIL_PERCENTILE)] * (1 + MARGIN)
        return Decision(head, tail, n, Rule.HISTOGRAM)
