"""Keep-alive policies: how long a function version's container stays loaded after an invocation, and when one
is loaded again ahead of the next call. Pure decisions over plain data, driven by the pool and by
`scripts/replay` alike."""

from .adaptive import Adaptive
from .decision import Decision, Fixed, KeepAlivePolicy, Rule
from .hybrid import Hybrid

__all__ = ["Adaptive", "Decision", "Fixed", "Hybrid", "KeepAlivePolicy", "Rule"]
