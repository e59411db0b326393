"""Counters and histograms in Prometheus' text format, with no dependency."""

from __future__ import annotations

from collections import defaultdict

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                     for n, v in zip(names, values))
    return "{" + inner + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()):
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] += amount

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        out += [f"{self.name}{_labels(self.label_names, k)} {v:g}" for k, v in sorted(self.values.items())]
        return out


class Histogram:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = (),
                 buckets: tuple[float, ...] = DURATION_BUCKETS):
        self.name, self.help, self.label_names, self.buckets = name, help_text, labels, buckets
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value: float, *labels: str) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.sums[labels] += value

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key in sorted(self.counts):
            names = self.label_names + ("le",)
            running = 0
            for bound, count in zip(self.buckets + (float("inf"),), self.counts[key]):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                out.append(f"{self.name}_bucket{_labels(names, key + (le,))} {running}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {self.sums[key]:.6f}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return out


class Metrics:
    """The platform's metrics; one object per control plane."""

    def __init__(self):
        self.invocations = Counter("faas_invocations_total", "Invocations by function and outcome.",
                                   ("function", "outcome"))
        self.cold_starts = Counter("faas_cold_starts_total", "Invocations served by a container's first use.",
                                   ("function",))
        self.container_starts = Counter("faas_container_starts_total", "Containers started, by reason.",
                                        ("function", "reason"))
        self.duration = Histogram("faas_invocation_duration_seconds", "Invocation time seen by the platform.",
                                  ("function",))
        self.builds = Counter("faas_builds_total", "Image builds by outcome.", ("status",))
        self.trigger_invocations = Counter(
            "faas_trigger_invocations_total",
            "Invocations caused by triggers, by function and trigger type (http: requests; timer: firings; "
            "queue: batches delivered).", ("function", "type"))

    def invocation(self, function: str, outcome, seconds: float) -> None:
        label = "success" if outcome.error is None else ("handled_error" if outcome.error.startswith("Handled")
                                                         else "unhandled_error")
        self.invocations.inc(function, label)
        self.duration.observe(seconds, function)

    def render(self, gauges: list[str] = ()) -> str:
        lines = []
        for metric in (self.invocations, self.cold_starts, self.container_starts, self.duration, self.builds,
                       self.trigger_invocations):
            lines += metric.render()
        lines += gauges
        return "\n".join(lines) + "\n"
