import pytest

from faas.pool import scheduler
from faas.pool.instance import Instance
from faas.pool.state import TRANSITIONS, ContainerState, IllegalTransition, check_transition

S = ContainerState


def inst(revision=1, state=S.READY, active=0, last_used=0.0, concurrency=1, keep_alive=300, reserved=False,
         cid="c"):
    return Instance(function="f", revision=revision, concurrency=concurrency, memory_mb=128, keep_alive_s=keep_alive,
                    reserved=reserved, container_id=cid, state=state, active=active, last_used=last_used)


def test_pick_warm_needs_the_same_version_and_room():
    old = inst(revision=1)
    busy = inst(revision=2, state=S.BUSY, active=1)
    assert scheduler.pick_warm([old, busy], revision=2) is None
    ready = inst(revision=2)
    assert scheduler.pick_warm([old, busy, ready], revision=2) is ready


def test_pick_warm_skips_starting_removing_and_draining():
    candidates = [inst(state=S.STARTING), inst(state=S.REMOVING), inst(state=S.DRAINING, active=1, concurrency=4)]
    assert scheduler.pick_warm(candidates, revision=1) is None


def test_pick_warm_takes_frozen_ones_last():
    """A Pausing or Thawing container has room as a Paused one has: it costs a thaw, so it comes last."""
    for frozen in (S.PAUSING, S.PAUSED):
        running = inst(state=S.BUSY, active=1, concurrency=2, last_used=0)
        assert scheduler.pick_warm([inst(state=frozen, last_used=9), running], revision=1) is running
    thawing = inst(state=S.THAWING, active=1, concurrency=2)
    assert scheduler.pick_warm([thawing], revision=1) is thawing
    assert scheduler.pick_warm([inst(state=S.THAWING, active=1)], revision=1) is None  # no room left


def test_pick_warm_prefers_running_to_paused():
    paused = inst(state=S.PAUSED, last_used=50)
    running = inst(last_used=1)
    assert scheduler.pick_warm([paused, running], revision=1) is running
    assert scheduler.pick_warm([paused], revision=1) is paused


def test_pick_warm_packs_then_prefers_most_recent():
    a = inst(state=S.BUSY, active=1, concurrency=4, last_used=1)
    b = inst(state=S.BUSY, active=2, concurrency=4, last_used=0)
    c = inst(last_used=9)
    assert scheduler.pick_warm([a, b, c], revision=1) is b
    d, e = inst(last_used=1), inst(last_used=5)
    assert scheduler.pick_warm([d, e], revision=1) is e


def test_expired_respects_keep_alive_reserved_and_activity():
    old = inst(last_used=0, keep_alive=10)
    fresh = inst(last_used=95, keep_alive=10)
    reserved = inst(last_used=0, keep_alive=10, reserved=True)
    busy = inst(state=S.BUSY, active=1, last_used=0, keep_alive=10)
    draining = inst(state=S.DRAINING, active=1, last_used=0, keep_alive=10)  # removed when its last call ends
    assert scheduler.expired([old, fresh, reserved, busy, draining], now=100) == [old]


def test_expired_includes_paused_idle_containers():
    assert scheduler.expired([inst(state=S.PAUSED, last_used=0, keep_alive=10)], now=100)


def test_to_pause_only_idle_running_containers_of_pausing_functions():
    a = inst(last_used=0)
    a.pause_after_s = 5
    b = inst(last_used=98)
    b.pause_after_s = 5
    c = inst(last_used=0)  # its function does not pause
    d = inst(state=S.BUSY, active=1, last_used=0)
    d.pause_after_s = 5
    e = inst(state=S.PAUSED, last_used=0)
    e.pause_after_s = 5
    assert scheduler.to_pause([a, b, c, d, e], now=100) == [a]


def test_choose_evictions_lru_first_never_reserved_or_busy():
    old = inst(last_used=1, cid="old")
    older = inst(last_used=0, cid="older")
    reserved = inst(last_used=-5, reserved=True)
    busy = inst(state=S.BUSY, active=1, last_used=-9)
    for i in (old, older, reserved, busy):
        i.function = "other"
    assert scheduler.choose_evictions([old, older, reserved, busy], need_mb=100) == [older]
    assert scheduler.choose_evictions([old, older, reserved, busy], need_mb=200) == [older, old]
    # Not enough to free even with all candidates: evict nothing.
    assert scheduler.choose_evictions([old, older, reserved, busy], need_mb=300) == []
    assert scheduler.choose_evictions([old], need_mb=0) == []


def test_choose_evictions_spares_the_function_that_needs_room():
    mine = inst(last_used=0)
    mine.function = "me"
    assert scheduler.choose_evictions([mine], need_mb=64, exclude="me@LATEST") == []


def test_reserved_plan_promotes_before_starting():
    warm = inst(last_used=5)
    busy = inst(state=S.BUSY, active=1, last_used=9)
    old_version = inst(revision=0)
    promote, start, release = scheduler.reserved_plan([warm, busy, old_version], revision=1, wanted=3)
    assert promote == [busy, warm] and start == 1 and release == []


def test_reserved_plan_releases_the_surplus_idle_first():
    idle = inst(reserved=True, last_used=5)
    busy = inst(state=S.BUSY, active=1, reserved=True, last_used=0)
    promote, start, release = scheduler.reserved_plan([idle, busy], revision=1, wanted=1)
    assert promote == [] and start == 0 and release == [idle]
    assert scheduler.reserved_plan([idle, busy], revision=1, wanted=2) == ([], 0, [])


def test_keep_alive_zero_reclaims_at_once():
    assert scheduler.expired([inst(last_used=100, keep_alive=0)], now=100)


def test_transition_table():
    assert TRANSITIONS[S.REMOVING] == frozenset()
    assert all(S.REMOVING in TRANSITIONS[s] for s in S if s is not S.REMOVING)  # any container may be lost
    for current, new in ((S.STARTING, S.READY), (S.BUSY, S.READY), (S.READY, S.PAUSING), (S.PAUSING, S.PAUSED),
                         (S.PAUSING, S.THAWING), (S.PAUSED, S.THAWING), (S.THAWING, S.BUSY),
                         (S.THAWING, S.DRAINING), (S.BUSY, S.DRAINING)):
        check_transition(current, new)
    # Named phases instead of flags: nothing is marked Paused before Docker froze it, nothing serves frozen,
    # and a Draining container never serves again.
    for current, new in ((S.REMOVING, S.READY), (S.STARTING, S.PAUSED), (S.READY, S.PAUSED), (S.PAUSED, S.BUSY),
                         (S.PAUSED, S.READY), (S.PAUSING, S.BUSY), (S.DRAINING, S.READY), (S.DRAINING, S.BUSY),
                         (S.STARTING, S.BUSY)):
        with pytest.raises(IllegalTransition):
            check_transition(current, new)


def test_instance_transition_goes_through_the_table():
    i = inst(state=S.READY)
    i.transition(S.BUSY)
    assert i.state is S.BUSY
    with pytest.raises(IllegalTransition):
        i.transition(S.PAUSED)
