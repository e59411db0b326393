"""The hindsight reference of scripts/replay: each application's best static window per memory price."""

import json
import random

import pytest

from faas.replay import __main__ as cli
from faas.replay.bound import Bound, Point, hull, idle_times, least_waste, lowest_p75
from faas.replay.simulate import Window
from faas.replay.trace import App


def brute_force(forced, gaps, mb):
    """Every window with edges on idle times (or a = 0), scored directly."""
    options = [(forced + len(gaps), 0.0)]
    for a in [0.0, *gaps]:
        for b in gaps:
            if b < a:
                continue
            cold = forced + sum(1 for g in gaps if not a <= g <= b)
            waste = sum(g - a if a <= g <= b else (b - a if g > b else 0.0) for g in gaps)
            options.append((cold, waste * mb))
    return options


def test_a_periodic_app_needs_no_memory_and_no_cold_start_but_its_first():
    assert hull(1, [100.0] * 50, 128) == [(1.0, 0.0)]


def test_two_idle_times_give_a_window_that_loads_nothing_and_one_that_keeps_for_the_long_one():
    # [10, 10] serves the short gap for nothing; [10, 1000] serves both and waits 990 s for the long one.
    assert hull(1, [10.0, 1000.0], 2) == [(1.0, 990.0 * 2), (2.0, 0.0)]


@pytest.mark.parametrize("seed", range(5))
def test_the_hull_prices_like_every_window_scored_directly(seed):
    rng = random.Random(seed)
    gaps = sorted(rng.weibullvariate(300.0, rng.uniform(0.4, 2.0)) for _ in range(rng.randint(1, 30)))
    options = brute_force(1, gaps, 256)
    points = hull(1, gaps, 256, candidates=len(gaps))
    for cold, waste in points:
        assert (cold, pytest.approx(waste, abs=1e-6)) in options
    for price in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        assert min(c + price * w for c, w in points) == pytest.approx(min(c + price * w for c, w in options))
    colds = [c for c, _ in points]
    assert colds == sorted(colds) and [w for _, w in points] == sorted((w for _, w in points), reverse=True)


def test_idle_times_skip_overlapping_calls_and_keep_to_their_window():
    app = App("a", 128, [0.0, 0.5, 10.0, 30.0, 100.0], [2.0, 2.0, 1.0, 1.0, 1.0])
    # busy until 2.5 after the first two calls, then idle 7.5 s, 19 s and 69 s
    assert idle_times(app, Window("all", 0.0, 200.0)) == (5, 1, [7.5, 19.0, 69.0])
    assert idle_times(app, Window("late", 20.0, 200.0)) == (2, 0, [19.0, 69.0])
    assert idle_times(app, Window("none", 150.0, 200.0)) == (0, 0, [])


def periodic(name, period, calls, mb=128):
    return App(name, mb, [i * period for i in range(calls)], [1.0] * calls)


def test_the_curve_serves_periodic_apps_and_prices_poisson_ones():
    rng = random.Random(3)
    poisson, t = [], 0.0
    while t < 7 * 86400:
        poisson.append(t)
        t += rng.expovariate(1 / 3600)
    apps = [periodic("p1", 600.0, 500), periodic("p2", 7200.0, 60), periodic("p3", 60.0, 5000),
            App("poisson", 1024, poisson, [1.0] * len(poisson))]
    window = Window("all", 0.0, 7 * 86400.0)
    bound = Bound([window])
    assert list(bound.watch(apps)) == apps
    points = bound.curve("all")
    cheap, dear = points[0], points[-1]
    # the periodic apps cost nothing at any price: three quarters of the apps see one cold start
    assert all(p.p75_app_cold <= 1 / 60 for p in points)
    # the Poisson app is only kept warm when memory is cheap, and then it costs more than fixed 10 min
    assert cheap.waste_share < dear.waste_share and dear.waste_share > 1.0
    assert cheap.cold > dear.cold


def test_picking_points_of_the_curve():
    points = [Point(1.0, 0.9, 0.1, 0.5), Point(2.0, 0.5, 0.05, 0.9), Point(4.0, 0.2, 0.01, 1.4)]
    assert least_waste(points, 0.5) == points[1]
    assert least_waste(points, 0.1) is None
    assert lowest_p75(points, 1.0) == points[1]
    assert lowest_p75(points, 0.4) is None


def test_replay_command_prints_and_dumps_the_reference(capsys):
    args = ["--apps", "20", "--days", "1", "--last-days", "0.5", "--max-per-day", "300", "--bound"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "hindsight reference" in out and "0.5x the hybrid's" in out
    assert cli.main([*args, "--json"]) == 0
    curves = json.loads(capsys.readouterr().out)["bound"]
    assert set(curves) == {"whole trace", "last 0.5 days"}
    for points in curves.values():
        assert all(0 <= p["p75_app_cold"] <= 1 and p["waste_share"] >= 0 for p in points)
