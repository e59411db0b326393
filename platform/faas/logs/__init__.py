"""Function logs: each container's output read from Docker, attributed to invocations, kept bounded.

The collector (`collector.py`) is a process of its own, started and watched by the control plane's
`LogChannel` (`reports.py`), so that reading containers' output never takes the control plane's core.
The collector reads containers in `streams.py`, attributes their lines by the rules of `attribution.py`,
and writes them within bounds in `store.py`; `inbox.py` carries lines between its threads. The API reads
logs with `LogReader` (`reader.py`); `keys.py` names the keys.

**Attribution comes from what the platform knows, never from what a function prints.** The runtime
writes each line of an invocation as `<request id> <line>`, but a function can print any text. So the
control plane tells the collector, through a pipe, which request ids run on which container (`+cid rid`
before the call, `-cid rid` after it), and a tag counts only when that request id runs (or just ran) on
the container that printed it. Every other line is the container's own output: it goes to the function's
stream without a request id, and to no invocation's log. The notice is written to the pipe before the
request reaches the container, so it is there before any line the invocation prints: the collector reads
the pipe before it looks at a batch of lines.

Redis keeps, under the platform's prefix:

| key | type | holds |
|---|---|---|
| `logs:fn:{name}` | stream | the function's recent lines (fields `rid`, `line`) and every REPORT line |
| `logs:inv:{requestId}` | list | an invocation's lines (LOG_INVOCATION_BYTES at most), then its REPORT line |
| `logs:index:{name}` | list | `"{requestId} {bytes}"` of the function's invocation logs, oldest first |
| `logs:usage` | hash | bytes of invocation logs per function |
| `logs:reports` | list | REPORT lines of invocations that printed, on their way to the collector |
| `logs:reports:held` | list | REPORT lines the collector took and has not written yet |
| `logs:cursors` | hash | per container, the Docker timestamp of the last line the collector read |

An invocation that prints nothing costs one stream entry (its REPORT line), written by the control plane
itself: no key of its own. Bounds: per function, the stream holds LOG_FUNCTION_LINES entries and the
invocation logs LOG_FUNCTION_INVOCATIONS and half of FAAS_LOG_FUNCTION_MB (the oldest go first); in all,
a budget pass keeps the logs' memory under FAAS_LOG_MAX_MB by trimming the largest functions. Nothing is
left to Redis' eviction, which would take async events too. All keys expire after FAAS_LOG_TTL.

The collector reads each container through Docker's log endpoint and remembers where it stopped
(`logs:cursors`), so a collector that was killed resumes where it was; on a TERM it reads every stream to
its end and writes the REPORT lines it holds before it exits.
"""
