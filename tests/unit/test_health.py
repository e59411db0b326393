"""A part is degraded after failures in a row, and a success clears them."""

from faas.health import FAILURES_DEGRADED, Health


def test_failures_in_a_row_make_a_part_degraded_until_it_works_again():
    health = Health("cells")
    for i in range(FAILURES_DEGRADED - 1):
        health.failed(f"reason {i}")
        assert health.problem() is None
    health.failed("the last\nreason")
    assert health.problem() == f"{FAILURES_DEGRADED} failures in a row, the last: the last\nreason"
    health.succeeded()
    assert health.problem() is None
    health.failed("x" * 10_000)
    health.failed("x" * 10_000)
    health.failed("x" * 10_000)
    assert len(health.problem()) == 500
