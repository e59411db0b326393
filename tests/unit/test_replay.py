"""scripts/replay's parts (faas.replay): the simulator, the cell pass, the trace generator and the readers of
the Azure traces' real formats."""

import json
import math
import statistics

import pytest

from faas.cells import demand
from faas.cells.demand import priced_target
from faas.pool.keepalive import Decision, Fixed, Rule
from faas.replay import __main__ as cli
from faas.replay import cells, synthetic
from faas.replay.report import percentile
from faas.replay.simulate import Window, replay, replay_app
from faas.replay.trace import App, Trace, memory_class, read_azure_2019, read_azure_2021
from helpers import ScriptedPolicy

DAY = 86400.0


def one_window(end=1000.0):
    return [Window("all", 0.0, end)]


# The simulator

def test_fixed_keep_alive_warm_and_cold_calls_and_their_idle_memory():
    app = App("a", 256, [0.0, 50.0, 200.0, 210.0], [1.0, 1.0, 1.0, 1.0])
    policy = ScriptedPolicy(Decision(0.0, 100.0, 0, Rule.FIXED))
    ((calls, cold, waste, prewarms, used),) = replay_app(app, policy, one_window(), 1000.0, None)
    # 0: cold; 50: warm after 49 s idle; 200: cold (149 s > 100, the container went at 151); 210: warm after 9 s
    assert (calls, cold) == (4, 2)
    assert policy.seen == [49.0, 149.0, 9.0]
    assert waste == pytest.approx(256 * (49 + 100 + 9 + 100))  # the last window runs to its end
    assert (prewarms, used) == (0, 0)


def test_a_call_during_a_running_one_is_warm_and_adds_no_idle_time():
    app = App("a", 128, [0.0, 5.0, 8.0], [10.0, 1.0, 10.0])
    policy = ScriptedPolicy(Decision(0.0, 0.0, 0, Rule.RELEASE))
    ((calls, cold, *_),) = replay_app(app, policy, one_window(), 1000.0, None)
    assert (calls, cold) == (3, 1) and policy.seen == []


def test_pre_warms_that_serve_a_call_that_serve_nothing_and_that_come_too_late():
    app = App("a", 128, [0.0, 100.0, 300.0, 330.0], [0.0] * 4)
    policy = ScriptedPolicy(Decision(90.0, 110.0, 0, Rule.HISTOGRAM))
    ((calls, cold, waste, prewarms, used),) = replay_app(app, policy, one_window(), 1000.0, cold_times := [])
    # 100: pre-warmed at 90, warm; 300: the pre-warm of 190-210 served nothing, cold;
    # 330: came before its pre-warm (390), cold; then a last pre-warm at 420-440 serves nothing
    assert (calls, cold, prewarms, used) == (4, 3, 3, 1)
    assert cold_times == [0.0, 300.0, 330.0]
    assert waste == pytest.approx(128 * (10 + 20 + 20))


def test_a_pre_warm_holds_the_cell_kept_for_it():
    app = App("a", 128, [0.0, 100.0], [0.0, 0.0])
    policy = ScriptedPolicy(Decision(90.0, 110.0, 0, Rule.HISTOGRAM))
    ((_, cold, waste, prewarms, used),) = replay_app(app, policy, one_window(), 1000.0, None, prewarm_cell_s=5.0)
    # pre-warmed at 90 for the call at 100; then one at 190 for nothing: 10 s and 20 s loaded, 5 s of cell each
    assert (cold, prewarms, used) == (1, 2, 1)
    assert waste == pytest.approx(128 * (10 + 20 + 5 + 5))


def test_figures_are_kept_per_window():
    app = App("a", 128, [10.0, 20.0, 1500.0, 1510.0], [0.0] * 4)
    windows = [Window("all", 0.0, 2000.0), Window("last", 1000.0, 2000.0)]
    stats = replay_app(app, Fixed(600), windows, 2000.0, None)
    assert [s[:2] for s in stats] == [(4, 2), (2, 1)]
    assert stats[1][2] == pytest.approx(128 * (10 + 490))  # the window of 1510-2110, cut at the trace's end


def test_replay_runs_every_policy_on_every_app():
    trace = Trace(iter([App("a", 128, [0.0, 10.0], [1.0, 1.0]), App("b", 512, [5.0], [1.0], takes_cells=False)]),
                  100.0, "test")
    runs, total = replay(trace, {"fixed": lambda app: Fixed(60), "none": lambda app: Fixed(0)}, one_window(100.0))
    assert total == 3
    assert runs["fixed"].tallies["all"].cold == 2 and runs["none"].tallies["all"].cold == 3
    assert runs["fixed"].cold_times == {128: [0.0]}  # b never takes a cell
    assert sorted(runs["fixed"].tallies["all"].app_shares) == [0.5, 1.0]
    assert runs["none"].tallies["all"].app_shares == [1.0, 1.0]


def test_percentile_is_nearest_rank():
    assert percentile([], 75) == 0.0
    assert percentile([0.1, 0.2, 0.3, 0.4], 75) == 0.3
    assert percentile([1.0], 75) == 1.0


# The cell pass

def test_platform_rule_keeps_its_minimum_for_the_default_class_and_counts_their_memory():
    rule = cells.platform_rule(minimum=2, maximum=4)
    passed = cells.cell_pass([], 128, rule, 100.0, one_window(100.0))
    assert passed["all"] == (0, pytest.approx(2 * 128 * 100.0))
    assert cells.cell_pass([], 512, rule, 100.0, one_window(100.0))["all"] == (0, 0.0)


def test_a_cold_start_takes_a_ready_cell_and_the_class_refills():
    rule = cells.platform_rule(minimum=1, maximum=4)
    # default class, one ready: 10 takes it; 10.2 finds none (the refill lands at 10.5); 20 takes the refill
    passed = cells.cell_pass([10.0, 10.2, 20.0], 128, rule, 100.0, one_window(100.0))
    assert passed["all"][0] == 2


def test_a_class_without_recent_cold_starts_keeps_no_cell():
    rule = cells.platform_rule(minimum=2, maximum=4)
    took, idle = cells.cell_pass([10.0, 500.0], 512, rule, 1000.0, one_window(1000.0))["all"]
    # each start of the class finds none; its 2 cells start 2 s after it, ready 0.5 s later, and go once the
    # start is a minute old
    assert took == 0
    assert idle == pytest.approx(2 * (2 * 512 * (70.0 - 12.5)))


def test_the_learned_rule_keeps_a_cell_for_a_class_with_steady_cold_starts():
    times = [90.0 * i for i in range(1, 80)]  # a 256 MB cold start every 90 s, for two hours
    platform = cells.cell_pass(times, 256, cells.platform_rule(), 7200.0, one_window(7200.0))["all"]
    learned = cells.cell_pass(times, 256, cells.learned_rule(), 7200.0, one_window(7200.0))["all"]
    assert platform[0] == 0  # the cells a start asks for go a minute after it, before the next start
    assert learned[0] == 78  # all but the first


def test_wanted_adds_the_pre_warms_due_and_keeps_the_pool_rule_as_a_floor():
    assert demand.wanted(0, 0, True, 128, 4, 16) == 4
    assert demand.wanted(0, 0, False, 512, 4, 16) == 0
    assert demand.wanted(0, 0, False, 512, 4, 16, due=2) == 2
    assert demand.wanted(3, 3, False, 512, 4, 16) == 4
    assert demand.wanted(0, 0, True, 128, 4, 16, due=20) == 16


def test_priced_cells_follow_the_rate_of_cold_starts():
    assert priced_target(0.0, 128, 2.5, 1e-5, 40.0, 16) == 0
    few = priced_target(1 / 600, 128, 2.5, 1 / (128 * 30_000), 40.0, 16)
    many = priced_target(5.0, 128, 2.5, 1 / (128 * 30_000), 40.0, 16)
    assert 1 <= few < many <= 16
    assert priced_target(1 / 600, 4096, 2.5, 1e-3, 40.0, 16) == 0  # not worth its memory


# The generator

def test_generator_is_deterministic_per_seed():
    a = [(app.arrivals[:5], app.memory_mb) for app in synthetic.generate(20, 1, seed=3).apps]
    b = [(app.arrivals[:5], app.memory_mb) for app in synthetic.generate(20, 1, seed=3).apps]
    c = [(app.arrivals[:5], app.memory_mb) for app in synthetic.generate(20, 1, seed=4).apps]
    assert a == b and a != c


def test_generator_rates_follow_the_published_shape():
    quantile = {r: sum(synthetic.daily_rate(u / 1000, 10_000) <= r for u in range(1, 1000)) / 999
                for r in (24, 1440)}
    assert quantile[24] == pytest.approx(0.45, abs=0.01)  # at most once an hour
    assert quantile[1440] == pytest.approx(0.81, abs=0.01)  # at most once a minute


def test_generated_apps_have_the_published_shape_within_tolerances():
    apps = list(synthetic.generate(400, 3, seed=5, max_per_day=2000).apps)
    per_day = [len(app.arrivals) / 3 for app in apps]
    assert sum(r <= 24 for r in per_day) / len(apps) == pytest.approx(0.45, abs=0.07)
    cvs = []
    for app in apps:
        if len(app.arrivals) >= 10:
            gaps = [b - a for a, b in zip(app.arrivals, app.arrivals[1:])]
            cvs.append(statistics.pstdev(gaps) / statistics.fmean(gaps))
    assert sum(cv > 1 for cv in cvs) / len(cvs) == pytest.approx(0.40, abs=0.08)
    memory = sorted(app.memory_mb for app in apps)
    assert memory[len(memory) // 2] in (128, 192)  # Burr's median is near 120 MB
    durations = [statistics.fmean(app.durations) for app in apps if app.durations]
    assert 0.05 < statistics.median(durations) < 5  # log-normal around e^-0.38 s
    assert all(a == sorted(a) and all(0 <= t < 3 * DAY for t in a) for a in (app.arrivals for app in apps))


def test_functions_per_app_and_triggers_shares_add_up():
    assert sum(s for _, s in synthetic.FUNCTIONS_PER_APP) == pytest.approx(1.0)
    assert dict(synthetic.FUNCTIONS_PER_APP)[1] == 0.54
    assert sum(s for n, s in synthetic.FUNCTIONS_PER_APP if n <= 10) == pytest.approx(0.95)
    assert sum(s for _, s in synthetic.TRIGGERS) == pytest.approx(1.0)


def test_burr_quantiles():
    assert synthetic.burr_mb(0.5) == pytest.approx(107.083 * (2 ** (1 / 0.221) - 1) ** (1 / 11.652))
    assert memory_class(100) == 128 and memory_class(129) == 192 and memory_class(10**6) == 4096


# The readers, on small files in the real formats

def write_2019(directory, rows, durations=(), memory=()):
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(i) for i in range(1, 1441))
    lines = [header] + rows
    (directory / "invocations_per_function_md.anon.d01.csv").write_text("\n".join(lines) + "\n")
    (directory / "function_durations_percentiles.anon.d01.csv").write_text(
        "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum\n" + "\n".join(durations) + "\n")
    (directory / "app_memory_percentiles.anon.d01.csv").write_text(
        "HashOwner,HashApp,SampleCount,AverageAllocatedMb\n" + "\n".join(memory) + "\n")


def minutes(counts):
    values = [0] * 1440
    for minute, n in counts.items():
        values[minute] = n
    return ",".join(str(v) for v in values)


def test_azure_2019_reader_merges_functions_per_app_and_skips_malformed_rows(tmp_path):
    write_2019(tmp_path, [
        f"o,app1,f1,http,{minutes({0: 2, 10: 1})}",
        f"o,app1,f2,timer,{minutes({5: 1})}",
        f"o,app2,f3,queue,{minutes({1439: 700})}",
        "o,app3,f4,http,1,2,3",  # truncated
        f"o,app4,f5,http,{minutes({0: 1}).replace('0', 'x', 1)}",  # not a number
    ], durations=["o,app1,f1,250,3,1,500", "o,app1,f2,bad,1,1,1"], memory=["o,app1,1,300", "o,app2,1,nope"])
    trace = read_azure_2019(tmp_path)
    apps = {app.name: app for app in trace.apps}
    assert set(apps) == {"app1", "app2"}
    app1 = apps["app1"]
    assert app1.arrivals == [15.0, 45.0, 330.0, 630.0]  # two in minute 0, one in 5, one in 10
    assert app1.durations == [0.25, 0.25, 1.0, 0.25]  # f2's average is malformed: the default second
    assert app1.memory_mb == 384
    assert len(apps["app2"].arrivals) == 600  # capped per minute
    assert apps["app2"].memory_mb == 256  # its memory row is malformed: the default
    assert trace.skipped["invocations_per_function_md.anon.d01.csv"] == 2
    assert trace.seconds == DAY


def test_azure_2019_reader_samples_apps_by_a_seeded_hash(tmp_path):
    write_2019(tmp_path, [f"o,app{i},f,http,{minutes({i: 1})}" for i in range(20)])
    first = {app.name for app in read_azure_2019(tmp_path, apps=5, seed=1).apps}
    assert len(first) == 5 and first == {app.name for app in read_azure_2019(tmp_path, apps=5, seed=1).apps}


def test_azure_2019_reader_needs_its_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_azure_2019(tmp_path)


def test_azure_2021_reader_turns_ends_into_arrivals_and_skips_malformed_rows(tmp_path):
    path = tmp_path / "AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt"
    path.write_text("app,func,end_timestamp,duration\n"
                    "a,f1,10.5,0.5\n"
                    "a,f2,5.0,1.0\n"
                    "b,f3,100.0,2.0\n"
                    "b,f3,nan,1\n"
                    "b,f3,1.0,5.0\n"  # would arrive before the trace starts
                    "c,f4,7\n"
                    "d,f5,x,1\n"
                    "e,f6,20.0,-1\n")
    trace = read_azure_2021(path, memory_mb=200)
    apps = {app.name: app for app in trace.apps}
    assert apps["a"].arrivals == [4.0, 10.0] and apps["a"].durations == [1.0, 0.5]
    assert apps["b"].arrivals == [98.0] and apps["a"].memory_mb == 256
    assert trace.skipped[path.name] == 5
    assert trace.seconds == 100.0


# The command

def test_replay_command_prints_each_policy_and_the_verdict(capsys):
    assert cli.main(["--apps", "30", "--days", "2", "--last-days", "1", "--max-per-day", "500"]) == 0
    out = capsys.readouterr().out
    for name in ("fixed-10min", "fixed-60min", "hybrid", "adaptive", "adaptive vs hybrid", "last 1 days"):
        assert name in out


def test_replay_command_json_is_the_same_on_every_run(capsys):
    args = ["--apps", "20", "--days", "1", "--last-days", "0.5", "--max-per-day", "300", "--json",
            "--policies", "hybrid,adaptive"]
    cli.main(args)
    first = json.loads(capsys.readouterr().out)
    cli.main(args)
    second = json.loads(capsys.readouterr().out)
    strip = [{k: v for k, v in row.items() if k != "replay_per_s"} for row in first["figures"]]
    assert strip == [{k: v for k, v in row.items() if k != "replay_per_s"} for row in second["figures"]]
    assert {row["policy"] for row in first["figures"]} == {"hybrid", "adaptive"}
    assert all(0 <= row["cold"] <= 1 and math.isfinite(row["waste_mb_s"]) for row in first["figures"])


@pytest.mark.parametrize("args", [["--policies", "nope"], ["--apps", "0"], ["--days", "-1"]])
def test_replay_command_refuses_bad_arguments(args):
    with pytest.raises(SystemExit):
        cli.main(args)
