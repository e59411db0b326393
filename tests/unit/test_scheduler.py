import pytest

from faas.pool import scheduler
from faas.pool.instance import Instance
from faas.pool.state import TRANSITIONS, ContainerState, IllegalTransition, check_transition

S = ContainerState


def inst(version=1, state=S.READY, active=0, last_used=0.0, concurrency=1, keep_alive=300, reserved=False,
         retiring=False, cid="c"):
    i = Instance(function="f", version=version, concurrency=concurrency, memory_mb=128, keep_alive_s=keep_alive,
                 reserved=reserved, container_id=cid, state=state, active=active, last_used=last_used)
    i.retiring = retiring
    return i


def test_pick_warm_needs_the_same_version_and_room():
    old = inst(version=1)
    busy = inst(version=2, state=S.BUSY, active=1)
    assert scheduler.pick_warm([old, busy], version=2) is None
    ready = inst(version=2)
    assert scheduler.pick_warm([old, busy, ready], version=2) is ready


def test_pick_warm_skips_starting_paused_removing_and_retiring():
    candidates = [inst(state=S.STARTING), inst(state=S.PAUSED), inst(state=S.REMOVING), inst(retiring=True)]
    assert scheduler.pick_warm(candidates, version=1) is None


def test_pick_warm_packs_then_prefers_most_recent():
    a = inst(state=S.BUSY, active=1, concurrency=4, last_used=1)
    b = inst(state=S.BUSY, active=2, concurrency=4, last_used=0)
    c = inst(last_used=9)
    assert scheduler.pick_warm([a, b, c], version=1) is b
    d, e = inst(last_used=1), inst(last_used=5)
    assert scheduler.pick_warm([d, e], version=1) is e


def test_expired_respects_keep_alive_reserved_and_activity():
    old = inst(last_used=0, keep_alive=10)
    fresh = inst(last_used=95, keep_alive=10)
    reserved = inst(last_used=0, keep_alive=10, reserved=True)
    busy = inst(state=S.BUSY, active=1, last_used=0, keep_alive=10)
    retiring = inst(last_used=99, retiring=True)
    assert scheduler.expired([old, fresh, reserved, busy, retiring], now=100) == [old, retiring]


def test_keep_alive_zero_reclaims_at_once():
    assert scheduler.expired([inst(last_used=100, keep_alive=0)], now=100)


def test_transition_table():
    assert TRANSITIONS[S.REMOVING] == frozenset()
    check_transition(S.STARTING, S.BUSY)
    check_transition(S.BUSY, S.READY)
    with pytest.raises(IllegalTransition):
        check_transition(S.REMOVING, S.READY)
    with pytest.raises(IllegalTransition):
        check_transition(S.STARTING, S.PAUSED)


def test_instance_transition_goes_through_the_table():
    i = inst(state=S.READY)
    i.transition(S.BUSY)
    assert i.state is S.BUSY
    with pytest.raises(IllegalTransition):
        i.transition(S.PAUSED)
