"""The queue pollers' watch: which triggers are looked at next, and from which id an idle one waits."""

from faas.triggers.model import Trigger
from faas.triggers.watch import Watch, format_id, parse_id


def trigger(name: str, queue: str, batch_size: int = 1, function: str = "fn") -> Trigger:
    return Trigger.from_create(function, "id1", {"triggerName": name, "triggerType": "queue",
                                                 "triggerConfig": {"queueName": queue, "batchSize": batch_size}},
                               "t", 1.0)


def watch_of(*triggers: Trigger) -> Watch:
    watch = Watch(lambda queue: f"q:{queue}")
    watch.reset(triggers)
    return watch


def test_ids_compare_as_numbers_not_text():
    assert parse_id(b"10-0") > parse_id("9-5")
    assert parse_id("1700000000000-12") == (1700000000000, 12)
    assert parse_id("5") == (5, 0)
    assert format_id(parse_id("9-10")) == "9-10"


def test_a_new_trigger_is_active_until_its_queue_is_found_empty():
    a = trigger("a", "one")
    watch = watch_of(a)
    assert watch.active == {"fn/a"} and watch.waits() == {}
    watch.idle("fn/a", (5, 0))
    assert watch.active == set() and watch.waits() == {"q:one": "5-0"}


def test_a_message_after_the_id_wakes_only_the_triggers_waiting_before_it():
    a, b, c = trigger("a", "one"), trigger("b", "one"), trigger("c", "two")
    watch = watch_of(a, b, c)
    watch.idle("fn/a", (5, 0))
    watch.idle("fn/b", (9, 0))
    watch.idle("fn/c", (1, 0))
    assert watch.waits() == {"q:one": "5-0", "q:two": "1-0"}  # the lowest id per stream
    watch.woken("q:one", (7, 0))
    assert watch.active == {"fn/a"}  # b had taken up to 9-0 already; c is on another stream
    assert watch.waits() == {"q:one": "9-0", "q:two": "1-0"}
    watch.woken("q:one", (9, 1))
    assert watch.active == {"fn/a", "fn/b"}


def test_a_change_makes_the_trigger_active_with_its_new_queue_and_a_deletion_forgets_it():
    a = trigger("a", "one")
    watch = watch_of(a)
    watch.idle("fn/a", (5, 0))
    moved = trigger("a", "two")
    watch.put(moved)
    assert watch.active == {"fn/a"} and watch.triggers["fn/a"] == moved and watch.waits() == {}
    watch.idle("fn/a", (3, 0))
    assert watch.waits() == {"q:two": "3-0"}
    watch.woken("q:one", (100, 0))  # its old queue wakes nothing
    assert watch.active == set()
    watch.drop("fn/a")
    assert watch.triggers == {} and watch.waits() == {} and watch.active == set()
    watch.idle("fn/a", (4, 0))  # a poll that ended after the deletion: still forgotten
    assert watch.waits() == {}


def test_a_sweep_keeps_unchanged_triggers_idle_and_takes_changes_and_deletions():
    a, b, c = trigger("a", "one"), trigger("b", "two"), trigger("c", "three")
    watch = watch_of(a, b, c)
    for member in ("fn/a", "fn/b", "fn/c"):
        watch.idle(member, (1, 0))
    bigger, d = trigger("b", "two", batch_size=10), trigger("d", "four")
    watch.reset([trigger("a", "one"), bigger, d])  # read again: a as it was, b changed, c gone, d new
    assert watch.active == {"fn/b", "fn/d"}
    assert set(watch.triggers) == {"fn/a", "fn/b", "fn/d"} and watch.triggers["fn/b"].queue_config.batch_size == 10
    assert watch.waits() == {"q:one": "1-0"}
