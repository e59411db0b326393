"""Which queue triggers a poller looks at next: pure state, no Redis.

A trigger is *active* when its queue may hold something to deliver (it is new or changed, it delivered a full
round, it waits for its batch window or for its in-flight batches to end): the poller delivers for it every
round. A trigger whose queue had nothing for it is *idle*: it waits, after the id of the last message its group
took, in one blocking read over every idle trigger's queue, and becomes active again when a message arrives
after that id. An idle platform thus costs one blocking read, however many queue triggers it has.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .model import Trigger

StreamId = tuple[int, int]


def parse_id(raw: bytes | str) -> StreamId:
    """A stream id `<ms>-<seq>` as a pair of numbers (ids compare as pairs, not as text)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


class Watch:
    """The queue triggers one poller serves, each active or idle after a stream id."""

    def __init__(self, stream_of: Callable[[str], str]):
        """`stream_of`: the stream key of a queue name."""
        self._stream_of = stream_of
        self.triggers: dict[str, Trigger] = {}
        """member (`<function>/<name>`) -> trigger"""
        self.active: set[str] = set()
        self._after: dict[str, StreamId] = {}
        """idle member -> the id after which a message wakes it"""

    def stream(self, trigger: Trigger) -> str:
        return self._stream_of(trigger.queue_config.queue_name)

    def reset(self, triggers: Iterable[Trigger]) -> None:
        """Serve exactly `triggers`: each new or changed one active, the others as they were."""
        found = {t.member: t for t in triggers}
        for member in set(self.triggers) - set(found):
            self.drop(member)
        for member, trigger in found.items():
            if self.triggers.get(member) != trigger:
                self.put(trigger)

    def put(self, trigger: Trigger) -> None:
        """A trigger was made or changed: serve it as it is now, active."""
        self.triggers[trigger.member] = trigger
        self._after.pop(trigger.member, None)
        self.active.add(trigger.member)

    def drop(self, member: str) -> None:
        """Serve `member` no more (deleted, or its function is gone)."""
        self.triggers.pop(member, None)
        self._after.pop(member, None)
        self.active.discard(member)

    def idle(self, member: str, after: StreamId) -> None:
        """`member`'s queue had nothing after `after` for it: wait for a message after that."""
        if member in self.triggers:
            self.active.discard(member)
            self._after[member] = after

    def waits(self) -> dict[str, str]:
        """The blocking read's streams: each idle trigger's stream -> the lowest id its idle triggers wait after."""
        lowest: dict[str, StreamId] = {}
        for member, after in self._after.items():
            stream = self.stream(self.triggers[member])
            if stream not in lowest or after < lowest[stream]:
                lowest[stream] = after
        return {stream: format_id(after) for stream, after in lowest.items()}

    def woken(self, stream: str, message: StreamId) -> None:
        """Message `message` is on `stream`: its idle triggers that wait after an earlier id become active."""
        for member, after in list(self._after.items()):
            if after < message and self.stream(self.triggers[member]) == stream:
                del self._after[member]
                self.active.add(member)
