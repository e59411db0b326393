"""FC's function names on the platform's (faas.compat.names)."""

from faas.compat.names import derived, is_native


def test_fc_names_that_are_not_platform_names_get_their_own():
    assert is_native("my-func") and not is_native("My_Func") and not is_native("a" * 64)
    assert derived("My_Func") != derived("my_func") != derived("my-func")
    for name in ("My_Func", "_x", "_9", "A" * 128, "x__y", "Ab-_-cd"):
        native = derived(name)
        assert is_native(native) and native == derived(name), (name, native)
    assert derived("My_Func").startswith("my-func-") and derived("_9").startswith("fc-9-")
