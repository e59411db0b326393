"""Log attribution rules (faas.logs), without Docker or Redis: a tag counts only for what the control plane
said runs on that container."""

import pytest

from faas.logs.attribution import FOLLOW_NOTICE, Attribution, split_line
from faas.logs.reader import encode_tail

CID, OTHER = "a" * 12, "b" * 12
RID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def attribution(*notices: str) -> Attribution:
    state = Attribution()
    for notice in notices:
        state.apply(notice)
    return state


def test_a_tag_counts_only_on_the_container_it_runs_on():
    state = attribution(f"+{CID} {RID}")
    assert state.owns(CID, RID) and not state.owns(OTHER, RID)
    assert split_line(f"{RID} hello", lambda tag: state.owns(CID, tag)) == (RID, "hello")
    assert split_line(f"{RID} hello", lambda tag: state.owns(OTHER, tag)) == ("", f"{RID} hello")


def test_an_ended_invocation_takes_late_lines_for_a_while():
    state = attribution(f"+{CID} {RID}", f"-{CID} {RID}")
    assert state.owns(CID, RID)
    for i in range(64):
        state.apply(f"+{CID} r{i}")
        state.apply(f"-{CID} r{i}")
    assert not state.owns(CID, RID)  # pushed out by 64 later ones


@pytest.mark.parametrize("notice", [f"+{CID} {RID}\n", f"+{CID} ", f"+{CID[:11]} {RID}", f"*{CID} {RID}",
                                    f"+{CID} bad id", f"+{CID} {'x' * 65}", "", "+" * 100])
def test_malformed_notices_change_nothing(notice):
    state = attribution(notice)
    assert state.running == {} and state.recent == {}


def test_forgetting_a_container_returns_its_ids():
    state = attribution(f"+{CID} {RID}", f"+{CID} r2", f"-{CID} r2", f"+{OTHER} r3")
    assert sorted(state.forget(CID)) == sorted([RID, "r2"])
    assert not state.owns(CID, RID) and state.owns(OTHER, "r3")


@pytest.mark.parametrize("line", ["no tag here", f"{RID}", f"{RID}x y", " " + RID + " x", f"{'x' * 65} y"])
def test_lines_without_a_valid_tag_are_the_containers_own(line):
    assert split_line(line, lambda tag: tag == RID) == ("", line)


def test_tail_is_the_last_4_kb_in_base64():
    import base64

    text = base64.b64decode(encode_tail(["a" * 5000, "end"])).decode()
    assert len(text) == 4096 and text.endswith("a\nend\n")


@pytest.mark.parametrize("line,ok", [
    ("=0123456789ab my-fn LATEST", True),
    ("=0123456789ab my-fn 12", True),
    ("=0123456789ab my-fn LATEST\n", False),          # a trailing newline: the pipe's lines never keep one
    ("=0123456789ab my-fn 0", False),                  # not a version id
    ("=0123456789ab my-fn prod", False),               # an alias is resolved before it gets here
    ("=0123456789AB my-fn LATEST", False),             # not a container id prefix
    ("=0123456789a my-fn LATEST", False),
    ("=0123456789ab My_Fn LATEST", False),             # not a function name
    ("=0123456789ab ../../x LATEST", False),
    ("=0123456789ab " + "f" * 64 + " LATEST", False),  # longer than a function name may be
    ("=0123456789ab my-fn LATEST extra", False),
    ("+0123456789ab my-fn LATEST", False),
])
def test_follow_notices_are_taken_only_whole_and_well_formed(line, ok):
    assert bool(FOLLOW_NOTICE.fullmatch(line)) is ok
