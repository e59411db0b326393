"""The platform's own keep-alive policy: the window that pays for itself, from a fine histogram of idle times.

The hybrid policy (hybrid.py) takes fixed percentiles (5th and 99th) of 1-minute bins. This one asks, for
each stretch of time after an invocation, whether keeping a container loaded then is worth its memory:

- Bins are geometric (0.5 s, then 8 % wider each, up to 2 days), so a timer every minute is caught within
  seconds rather than within a minute, and a daily one still lies inside the histogram.
- Being loaded during bin i catches the calls that arrive in it (each a cold start avoided) and costs memory
  for every wait that reaches it: `width x (calls later than the bin + half of those in it)`. With a price
  of memory in cold starts (`PRICE`, per MB-second, times the function's memoryMB), each bin has a net
  value, and the best window is the stretch of bins with the largest sum (a maximum subarray). Nothing
  worth it: the container goes at once, and the next call takes a cell.
- A cold start has two prices here. A function that can take a cell pays ~10 ms; one that starts from its
  image pays ~400 ms, so avoiding one is worth `IMAGE_WEIGHT` cell cold starts.
- A window that starts after the first bin is a pre-warm: the container goes at once and a cell is
  specialised for the function just before the window (a cell's specialisation takes milliseconds, so the
  pre-warm can come late, `PREWARM_LEAD`, `PREWARM_LEAD_S`).
- Counts are halved whenever `RECENT` idle times have gathered, so a function whose pattern changes is
  learned again within a few hundred calls.
- A pre-warm less than `min_prewarm_s` (FAAS_PREWARM_MIN_GAP) after the call is not worth a container's
  churn: the window starts at the end of the call then, and lasts at least `FLOOR_S`.
- Too few idle times (`MIN_SAMPLES`): a plain keep-alive of `LEARNING_S`. Most idle times past 2 days: the
  next one is predicted from recent ones, as the hybrid policy does.

The decision is recomputed when the histogram has changed by more than 1/`REFRESH` of its samples since the
last one, so that a function called many times a second costs a few operations per call.
"""

from __future__ import annotations

from ... import defaults
from .decision import Decision, Rule
from .histogram import IdleHistogram, geometric_edges
from .predict import IdlePredictor

FIRST_EDGE_S = 0.5
RATIO = 1.08
SPAN_S = 2 * 86400.0
PRICE = 1.0 / (128 * 24_000)
"""Cold starts one MB-second of idle memory is worth: a 128 MB container kept 6 h 40 min to spare one cold
start (tuned by `scripts/replay` on the synthetic trace: cheaper memory spends more than the hybrid policy,
dearer memory lets the rarer functions go cold)."""
IMAGE_WEIGHT = 4.0
MIN_SAMPLES = 2
LEARNING_S = 7200.0
PREWARM_LEAD = 0.02
PREWARM_LEAD_S = 2.0
"""A pre-warm comes this fraction of the window's start, and these seconds, early: time for an image start
when no cell is ready."""
KEEP_MARGIN = 0.02
KEEP_MARGIN_S = 1.0
"""A window ends this fraction of its end, and these seconds, late: a call a little later than any seen (a
timer's jitter, a slow client) still finds the container."""
MIN_PREWARM_S = defaults.PREWARM_MIN_GAP_S
"""A window that would start sooner than this after the call starts at its end instead (the pool gives
FAAS_PREWARM_MIN_GAP)."""
FLOOR_S = 10.0
"""A window from the end of the call lasts at least this long, for the same reason."""
RECENT = 1024
REFRESH = 32
OUT_OF_BOUNDS_SHARE = 0.5
PREDICTION_MARGIN = 0.05


class Adaptive:
    __slots__ = ("histogram", "predictor", "rate", "min_prewarm_s", "_decision", "_at")

    def __init__(self, memory_mb: int = 128, takes_cells: bool = True, price: float = PRICE,
                 min_prewarm_s: float = MIN_PREWARM_S):
        self.histogram = IdleHistogram(geometric_edges(FIRST_EDGE_S, RATIO, SPAN_S))
        self.predictor = IdlePredictor()
        self.rate = price * memory_mb / (1.0 if takes_cells else IMAGE_WEIGHT)
        """Cold starts one second of this function's idle container is worth."""
        self.min_prewarm_s = min_prewarm_s
        self._decision: Decision | None = None
        self._at = 0  # samples when the decision was made

    def observe(self, idle_s: float) -> None:
        h = self.histogram
        h.add(idle_s)
        self.predictor.add(idle_s)
        if h.in_bounds >= RECENT:
            h.scale(0.5)
            self._decision = None

    def decide(self) -> Decision:
        n = self.histogram.samples
        if self._decision is None or (n - self._at) * REFRESH > n:
            self._decision, self._at = self._decide(n), n
        return self._decision

    def _decide(self, n: int) -> Decision:
        h = self.histogram
        if n < MIN_SAMPLES:
            return Decision(0.0, LEARNING_S, n, Rule.LEARNING)
        if h.out_of_bounds > n * OUT_OF_BOUNDS_SHARE:
            predicted = self.predictor.predict()
            if predicted is not None:
                return Decision(predicted * (1 - PREDICTION_MARGIN), predicted * (1 + PREDICTION_MARGIN), n,
                                Rule.PREDICTED)
        window = best_window(h, self.rate)
        if window is None:
            return Decision(0.0, FLOOR_S, n, Rule.RELEASE)
        first, last = window
        start = h.lower_edge(first) * (1 - PREWARM_LEAD) - PREWARM_LEAD_S
        end = h.edges[last] * (1 + KEEP_MARGIN) + KEEP_MARGIN_S
        if start < self.min_prewarm_s:
            return Decision(0.0, max(FLOOR_S, end), n, Rule.HISTOGRAM)
        return Decision(start, end, n, Rule.HISTOGRAM)


def best_window(h: IdleHistogram, rate: float) -> tuple[int, int] | None:
    """(first bin, last bin) of the stretch where being loaded is worth the most, at `rate` cold starts per
    second of idle container; None when no stretch is worth anything."""
    if not h.in_bounds:
        return None
    counts, edges = h.counts, h.edges
    lo, hi = h._lowest, h._highest
    later = h.out_of_bounds  # waits that go past bin i
    net = [0.0] * (hi - lo + 1)
    for i in range(hi, lo - 1, -1):
        c = counts[i]
        width = edges[i] - (edges[i - 1] if i else 0.0)
        net[i - lo] = c - rate * width * (later + c / 2)
        later += c
    best, best_span = 0.0, None
    run, begin = 0.0, 0
    for j, value in enumerate(net):
        if run <= 0:
            run, begin = value, j
        else:
            run += value
        if run > best:
            best, best_span = run, (begin + lo, j + lo)
    return best_span
