"""What a keep-alive policy decides after each invocation, and the interface every policy offers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Rule(StrEnum):
    """Which rule of a policy made a decision (shown by /instances)."""

    FIXED = "fixed"
    """The fixed keep-alive: the policy is `fixed`, or the function sets keepAliveSeconds below the window."""
    LEARNING = "learning"
    """Too few idle times seen yet: a plain keep-alive."""
    UNREPRESENTATIVE = "unrepresentative"
    """The idle times show no pattern a window could catch: a plain keep-alive."""
    HISTOGRAM = "histogram"
    """A window from the histogram of idle times."""
    RELEASE = "release"
    """No stretch of waiting is worth the container's memory: it goes at once, the next call takes a cell."""
    PREDICTED = "predicted"
    """Most idle times are longer than the histogram: a window around the next one predicted from recent ones."""


@dataclass(frozen=True, slots=True)
class Decision:
    """When a function version's container should be loaded after an invocation ends.

    With `prewarm_s` 0 the container stays loaded until `keep_alive_s` after the end of the invocation. With
    `prewarm_s` > 0 it is released at once and one is loaded again `prewarm_s` after the end, until
    `keep_alive_s` after the end (`keep_alive_s` > `prewarm_s`)."""

    prewarm_s: float
    keep_alive_s: float
    samples: int
    rule: Rule

    @property
    def loaded_s(self) -> float:
        """How long a container is loaded while waiting for the next call, if none comes."""
        return self.keep_alive_s - self.prewarm_s

    def bounded(self, cap_s: float) -> Decision:
        """This decision under an explicit keepAliveSeconds: the window never ends later than `cap_s` after
        the invocation (and a pre-warm that would start at or after it is dropped)."""
        if self.keep_alive_s <= cap_s:
            return self
        if self.prewarm_s >= cap_s:
            return Decision(0.0, cap_s, self.samples, Rule.FIXED)
        return Decision(self.prewarm_s, cap_s, self.samples, self.rule)

    def public(self) -> dict:
        """The decision as /instances shows it."""
        return {"keepAliveSeconds": round(self.keep_alive_s, 3), "prewarmSeconds": round(self.prewarm_s, 3),
                "samples": self.samples, "rule": str(self.rule)}


class KeepAlivePolicy(Protocol):
    """One function version's learner: told each idle time, asked for a decision after each invocation."""

    def observe(self, idle_s: float) -> None:
        """An invocation arrived `idle_s` seconds after the previous one ended (with none in between)."""

    def decide(self) -> Decision:
        """The window to apply after the invocation that is ending."""


class Fixed:
    """The peers' policy: a container stays `seconds` after every invocation; nothing is learned."""

    __slots__ = ("decision", "samples")

    def __init__(self, seconds: float):
        self.decision = Decision(0.0, float(seconds), 0, Rule.FIXED)
        self.samples = 0

    def observe(self, idle_s: float) -> None:
        self.samples += 1

    def decide(self) -> Decision:
        return self.decision
