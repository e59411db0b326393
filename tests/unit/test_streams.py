"""Message ids as the queue's Lua scripts read them (faas.queue.streams)."""

from faas.queue.streams import LUA_EXACT, lua_safe


def test_ids_a_double_holds_pass_as_they_are_without_leading_zeros():
    assert lua_safe("1700000000000-0") == "1700000000000-0"
    assert lua_safe("0001700000000000-007") == "1700000000000-7"
    assert lua_safe(f"{LUA_EXACT}-{LUA_EXACT - 1}") == f"{LUA_EXACT}-{LUA_EXACT - 1}"


def test_larger_ids_become_the_largest_a_double_holds():
    assert lua_safe("09289082010814963818-81") == f"{LUA_EXACT}-{LUA_EXACT - 1}"
    assert lua_safe("1-18446744073709551614") == f"1-{LUA_EXACT - 1}"
    assert lua_safe(f"{LUA_EXACT + 1}-0") == f"{LUA_EXACT}-{LUA_EXACT - 1}"
