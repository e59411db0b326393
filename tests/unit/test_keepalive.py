"""The keep-alive policies (pool/keepalive): the histogram, the published hybrid policy and the platform's own,
on constructed idle-time patterns."""

import math
import random

import pytest

from faas.pool.keepalive import Adaptive, Decision, Fixed, Hybrid, Rule, adaptive, hybrid
from faas.pool.keepalive.histogram import IdleHistogram, geometric_edges, linear_edges
from faas.pool.keepalive.predict import IdlePredictor

HOUR = 3600.0


def fed(policy, idle_times):
    for idle in idle_times:
        policy.observe(idle)
    return policy.decide()


def covers(decision: Decision, idle_s: float) -> bool:
    """Whether a call `idle_s` after the end of the last one finds a container under `decision`."""
    return decision.prewarm_s <= idle_s <= decision.keep_alive_s


# The histogram

def test_histogram_bins_idle_times_and_counts_those_past_its_span_apart():
    h = IdleHistogram(linear_edges(60, 240))
    for idle in (0, 59.9, 60, 239.9, 240, 10_000):
        h.add(idle)
    assert h.counts == [2, 1, 0, 1]
    assert (h.in_bounds, h.out_of_bounds, h.samples) == (4, 2, 6)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_histogram_ignores_negative_and_nan_idle_times(bad):
    h = IdleHistogram(linear_edges(60, 240))
    h.add(bad)
    assert h.samples == 0


@pytest.mark.parametrize("edges", [[], [0, 1], [1, 1], [2, 1]])
def test_histogram_refuses_edges_that_are_not_positive_and_increasing(edges):
    with pytest.raises(ValueError):
        IdleHistogram(edges)


def test_coefficient_of_variation_of_the_bin_counts():
    h = IdleHistogram(linear_edges(1, 10))
    assert h.cv() == 0.0
    for i in range(10):
        h.add(i + 0.5)
    assert h.cv() == pytest.approx(0.0)  # spread evenly
    g = IdleHistogram(linear_edges(1, 10))
    for _ in range(7):
        g.add(3.5)
    assert g.cv() == pytest.approx(3.0)  # all in one of 10 bins: sqrt(bins - 1)


def test_percentile_bins_walk_in_from_either_end():
    h = IdleHistogram(linear_edges(1, 100))
    for i in range(100):
        h.add(i + 0.5)
    assert h.percentile_bin(5) == 4
    assert h.percentile_bin(50) == 49
    assert h.percentile_bin(99) == 98
    assert IdleHistogram(linear_edges(1, 10)).percentile_bin(50) == -1


def test_scaling_halves_counts_and_keeps_the_statistics_consistent():
    h = IdleHistogram(linear_edges(1, 10))
    for idle in [1.5] * 5 + [7.5] * 2 + [20.0] * 3:
        h.add(idle)
    h.scale(0.5)
    assert h.counts[1] == 2 and h.counts[7] == 1 and h.out_of_bounds == 1
    fresh = IdleHistogram(linear_edges(1, 10))
    for idle in [1.5] * 2 + [7.5]:
        fresh.add(idle)
    assert h.cv() == pytest.approx(fresh.cv())
    assert h.percentile_bin(99) == 7


def test_geometric_edges_keep_the_same_relative_precision():
    edges = geometric_edges(0.5, 1.08, 2 * 86400)
    assert edges[0] == 0.5 and edges[-1] >= 2 * 86400
    assert all(b / a == pytest.approx(1.08) for a, b in zip(edges, edges[1:]))


# Decisions

def test_a_decision_under_an_explicit_keep_alive_never_ends_later():
    d = Decision(100.0, 900.0, 20, Rule.HISTOGRAM)
    assert d.bounded(1000) is d
    assert d.bounded(300) == Decision(100.0, 300.0, 20, Rule.HISTOGRAM)
    assert d.bounded(60) == Decision(0.0, 60.0, 20, Rule.FIXED)  # the pre-warm would come after the cap
    assert d.public() == {"keepAliveSeconds": 900.0, "prewarmSeconds": 100.0, "samples": 20, "rule": "histogram"}


def test_fixed_keeps_the_same_window_whatever_it_sees():
    policy = Fixed(600)
    assert fed(policy, [1, 10_000, 5]) == Decision(0.0, 600.0, 0, Rule.FIXED)


# The hybrid policy, as published

def test_hybrid_keeps_the_whole_range_while_learning():
    d = fed(Hybrid(), [1800.0] * hybrid.MIN_SAMPLES)
    assert (d.prewarm_s, d.keep_alive_s, d.rule) == (0.0, 4 * HOUR, Rule.LEARNING)


def test_hybrid_periodic_pre_warms_at_the_head_and_keeps_to_the_tail():
    d = fed(Hybrid(), [1830.0] * 20)  # every 30.5 minutes: the bin [30, 31) minutes
    assert d.rule is Rule.HISTOGRAM
    assert d.prewarm_s == pytest.approx(0.9 * 1800)
    assert d.keep_alive_s == pytest.approx(1.1 * 1860)
    assert covers(d, 1830.0)


def test_hybrid_bimodal_window_spans_both_modes():
    d = fed(Hybrid(), [90.0, 5400.0] * 15)
    assert d.rule is Rule.HISTOGRAM
    assert d.prewarm_s == pytest.approx(0.9 * 60) and d.keep_alive_s == pytest.approx(1.1 * 5460)


def test_hybrid_spread_idle_times_are_unrepresentative():
    rng = random.Random(3)
    d = fed(Hybrid(), [rng.uniform(0, 4 * HOUR) for _ in range(2000)])
    assert d.rule is Rule.UNREPRESENTATIVE and (d.prewarm_s, d.keep_alive_s) == (0.0, 4 * HOUR)


def test_hybrid_predicts_when_most_idle_times_are_out_of_bounds():
    d = fed(Hybrid(), [6 * HOUR] * 5)
    assert d.rule is Rule.PREDICTED
    assert d.prewarm_s == pytest.approx(0.85 * 6 * HOUR) and d.keep_alive_s == pytest.approx(1.15 * 6 * HOUR)


def test_hybrid_in_bounds_share_decides_between_histogram_and_prediction():
    assert fed(Hybrid(), [6 * HOUR] * 7 + [60.0] * 5).rule is Rule.PREDICTED  # 7 of 12 past 4 hours
    assert fed(Hybrid(), [6 * HOUR] * 6 + [60.0] * 6).rule is Rule.HISTOGRAM  # half is not more than half


# The predictor of out-of-bounds idle times

def test_predictor_follows_a_constant_an_alternation_and_the_last_value():
    p = IdlePredictor()
    assert p.predict() is None
    p.add(100.0)
    assert p.predict() == pytest.approx(100.0)
    for _ in range(20):  # the first falls out of the history
        p.add(86400.0)
    assert p.predict() == pytest.approx(86400.0, rel=0.05)
    q = IdlePredictor()
    for i in range(12):
        q.add(3600.0 if i % 2 else 7200.0)
    assert q.predict() == pytest.approx(7200.0, rel=0.05)  # the last was 3600: the other gap comes next


# The platform's adaptive policy

def test_adaptive_learns_first():
    d = fed(Adaptive(), [300.0] * (adaptive.MIN_SAMPLES - 1))
    assert d.rule is Rule.LEARNING and d.keep_alive_s == adaptive.LEARNING_S


def test_adaptive_periodic_pre_warms_just_before_the_next_call_and_holds_briefly():
    d = fed(Adaptive(), [59.5 + 0.3 * (i % 3) for i in range(50)])  # a timer every minute, with jitter
    assert d.rule is Rule.HISTOGRAM
    assert 50 < d.prewarm_s < 59.5 and 60.1 < d.keep_alive_s < 70
    assert d.loaded_s < 0.25 * 60  # the hybrid policy holds it ~1.1 minutes of every minute
    assert d.loaded_s < fed(Hybrid(), [59.5 + 0.3 * (i % 3) for i in range(50)]).loaded_s / 4


def test_adaptive_daily_job_is_pre_warmed_within_minutes_of_its_hour():
    d = fed(Adaptive(), [86400.0 - 30 + i for i in range(5)])
    assert d.rule is Rule.HISTOGRAM
    assert covers(d, 86400.0) and d.loaded_s < 4 * HOUR  # the hybrid policy predicts +-15 %, 7 hours
    assert fed(Hybrid(), [86400.0 - 30 + i for i in range(5)]).loaded_s > 7 * HOUR


def test_adaptive_bimodal_catches_the_near_mode_and_the_far_one_when_memory_is_cheap():
    pattern = [5.0, 5.0, 5.0, 2 * HOUR] * 40
    dear = fed(Adaptive(price=adaptive.PRICE * 1000), pattern)
    assert covers(dear, 5.0) and not covers(dear, 2 * HOUR)
    cheap = fed(Adaptive(price=adaptive.PRICE / 10), pattern)
    assert covers(cheap, 5.0) and covers(cheap, 2 * HOUR)


def test_adaptive_random_arrivals_get_a_plain_keep_alive_from_the_end():
    rng = random.Random(7)
    d = fed(Adaptive(), [rng.expovariate(1 / 60) for _ in range(500)])  # Poisson, a call a minute
    assert d.prewarm_s == 0.0 and d.keep_alive_s > 120


def test_adaptive_releases_at_once_when_no_wait_is_worth_its_memory():
    rng = random.Random(7)
    d = fed(Adaptive(memory_mb=4096, price=adaptive.PRICE * 1000), [rng.expovariate(1 / HOUR) for _ in range(200)])
    assert d.rule is Rule.RELEASE and (d.prewarm_s, d.keep_alive_s) == (0.0, adaptive.FLOOR_S)


def test_adaptive_single_burst_then_silence_keeps_the_floor():
    d = fed(Adaptive(), [0.2] * 30)  # 30 calls in a row, then nothing: the burst's window is the floor
    assert (d.prewarm_s, d.keep_alive_s) == (0.0, adaptive.FLOOR_S)


def test_adaptive_short_gaps_are_not_pre_warmed():
    d = fed(Adaptive(memory_mb=4096), [20.0] * 100)  # a gap too short to release the container for
    assert d.prewarm_s == 0.0 and covers(d, 20.0)


def test_adaptive_a_changed_pattern_is_learned_again():
    policy = Adaptive()
    fed(policy, [30.0] * 3000)
    d = fed(policy, [600.0] * 3000)
    assert covers(d, 600.0) and not covers(d, 30.0)


def test_image_only_functions_are_kept_longer_than_those_a_cell_serves():
    rng = random.Random(11)
    idle = [rng.expovariate(1 / 1800) for _ in range(300)]  # a 4 GB function called at random every 30 min
    cell = fed(Adaptive(memory_mb=4096, takes_cells=True), idle)
    image = fed(Adaptive(memory_mb=4096, takes_cells=False), idle)
    assert cell.loaded_s < 60  # a cell's 10 ms start is not worth 4 GB waiting
    assert image.prewarm_s < 60 and image.keep_alive_s > 2 * 3600  # an image's 400 ms is


def test_adaptive_predicts_past_its_span():
    d = fed(Adaptive(), [5 * 86400.0] * 4)
    assert d.rule is Rule.PREDICTED and covers(d, 5 * 86400.0)
