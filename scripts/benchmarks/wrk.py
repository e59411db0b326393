"""wrk runs and what they measured: latency percentiles and requests/s, request counts, errors."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_wrk(url: str, connections: int, seconds: int, headers: dict[str, str], *, threads: int = 2, body: str = "",
            latency: bool = False) -> str:
    """wrk's report of POSTs of `body` with `headers` (and its latency distribution when asked)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = "{body}"\n')
        for name, value in headers.items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
    try:
        return subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                               *(["--latency"] if latency else []), "-s", script.name, url],
                              capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)


def figure(pattern: str, out: str) -> re.Match[str]:
    """`pattern` in a wrk report, which must have it."""
    found = re.search(pattern, out, re.M)
    if found is None:
        raise SystemExit(f"bench: no {pattern!r} in wrk's report:\n{out}")
    return found


def requests_per_second(out: str) -> float:
    return float(figure(r"Requests/sec:\s+([\d.]+)", out).group(1))


def _requests(out: str) -> int:
    return int(figure(r"(\d+) requests in", out).group(1))


def _refuse_errors(out: str) -> None:
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"bench: wrk saw errors:\n{out}")


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str] | None = None) -> dict:
    """Run wrk (POST, empty body, `headers`) and return p50, p99 (seconds) and requests/s."""
    out = run_wrk(url, connections, seconds, headers or {}, threads=min(2, connections), latency=True)
    _refuse_errors(out)

    def latency(q: str) -> float:
        value, unit = figure(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out).groups()
        return float(value) * _UNITS[unit]

    return {"p50": latency("50"), "p99": latency("99"), "rps": requests_per_second(out)}


def wrk_count(url: str, connections: int, seconds: int, headers: dict[str, str]) -> int:
    """Requests wrk completed in `seconds` (POST, empty body), all of them answered 2xx."""
    out = run_wrk(url, connections, seconds, headers)
    _refuse_errors(out)
    return _requests(out)


def wrk_errors(url: str, connections: int, seconds: int, headers: dict[str, str]) -> tuple[int, int]:
    """(requests, errors) of a wrk run: non-2xx answers and socket errors."""
    out = run_wrk(url, connections, seconds, headers)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return _requests(out), errors + (int(non2xx.group(1)) if non2xx else 0)
