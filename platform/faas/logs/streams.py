"""Function containers' output, read from Docker: a reader thread per container, from where an earlier
collector stopped reading it (its cursor), for every function container of the platform as it starts."""

from __future__ import annotations

import logging
import threading
import time

import docker
import redis

from .. import defaults
from ..config import Settings
from ..defaults import LATEST
from ..docker_host import (
    LABEL_FUNCTION,
    LABEL_PLATFORM,
    LABEL_ROLE,
    LABEL_VERSION_ID,
    ROLE_FUNCTION,
    docker_time,
    function_filter,
    label_filter,
    make_client,
)
from .inbox import Inbox
from .store import LogStore

log = logging.getLogger(__name__)


class ContainerStreams:
    """Follows containers' output, a reader thread each, into the inbox."""

    def __init__(self, settings: Settings, store: LogStore, inbox: Inbox, stopping: threading.Event):
        self.settings = settings
        self.store = store
        self.inbox = inbox
        self._stopping = stopping
        self._docker: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._following: dict[str, threading.Thread] = {}
        self._versions: dict[str, str] = {}
        """The version each followed container runs (by its first 12 hex digits): its lines are marked with it."""

    def _client(self) -> docker.DockerClient:
        if self._docker is None:  # a client of its own: each followed container holds a connection
            self._docker = make_client(self.settings.docker_url, max_pool_size=1024)
        return self._docker

    def follow(self, container_id: str, function: str, since: float | None, version: str = LATEST) -> None:
        """Follow a container's output from `since` (a Docker timestamp; None: from its start); once each.
        `version`: the function's version it runs."""
        with self._lock:
            if container_id in self._following:
                return
            self._versions[container_id[:12]] = version
            thread = threading.Thread(target=self._read, args=(container_id, function, since),
                                      name=f"logs-{container_id[:12]}", daemon=True)
            self._following[container_id] = thread
        thread.start()

    def follow_cell(self, cid: str, function: str, version: str) -> None:
        """Follow a specialised cell (from where an earlier collector stopped reading it, if one did)."""
        try:
            cursor = self.store.cursor(cid)
        except redis.RedisError:
            cursor = None
        self.follow(cid, function, _resume_at(cursor), version)

    def version(self, cid: str) -> str:
        """The version container `cid` (its first 12 hex digits) runs."""
        return self._versions.get(cid, LATEST)

    def ended(self, container_id: str) -> None:
        """Its stream ended, and what it printed is written."""
        with self._lock:
            self._following.pop(container_id, None)
            self._versions.pop(container_id[:12], None)

    def _read(self, container_id: str, function: str, since: float | None) -> None:
        cid = container_id[:12]
        partial, stamp = b"", ""
        try:
            stream = self._client().api.logs(container_id, stdout=True, stderr=True, stream=True, follow=True,
                                             timestamps=True, since=since if since else None)
            for frame in stream:
                ts, _, text = frame.partition(b" ")
                parts = (partial + text).split(b"\n")
                partial = parts.pop()
                if len(partial) > defaults.LOG_LINE_BYTES:
                    parts.append(partial)
                    partial = b""
                stamp = ts.decode("ascii", "replace")
                if parts:
                    self.inbox.put([(cid, function, stamp, p.decode("utf-8", "replace")) for p in parts])
        except (docker.errors.DockerException, OSError) as exc:
            log.debug("Logs of container %s: stream ended: %s", cid, exc)
        if partial:
            self.inbox.put([(cid, function, stamp, partial.decode("utf-8", "replace"))])
        self.inbox.put([(cid, function, None, container_id)])

    def follow_all(self) -> None:
        """Follow every function container of this platform, now and as they start, until the collector stops."""
        labels = label_filter(function_filter(self.settings.platform_id))
        while not self._stopping.is_set():
            try:
                client = self._client()
                since = int(time.time())
                cursors = self.store.cursors()
                # Every container of the platform: cells too, whose cursors stay (they are followed on notice).
                found = client.api.containers(filters={"label": [f"{LABEL_PLATFORM}={self.settings.platform_id}"]})
                for info in found:
                    if info["Labels"].get(LABEL_ROLE) == ROLE_FUNCTION:
                        self.follow(info["Id"], info["Labels"].get(LABEL_FUNCTION, ""),
                                    _resume_at(cursors.get(info["Id"][:12])),
                                    info["Labels"].get(LABEL_VERSION_ID, LATEST))
                stale = set(cursors) - {info["Id"][:12] for info in found}
                if stale:
                    self.store.forget_cursors(stale)
                for event in client.api.events(decode=True, since=since,
                                               filters={"type": "container", "event": "start", "label": labels}):
                    if self._stopping.is_set():
                        break
                    attrs = event.get("Actor", {}).get("Attributes", {})
                    self.follow(event["id"], attrs.get(LABEL_FUNCTION, ""), None, attrs.get(LABEL_VERSION_ID, LATEST))
            except (docker.errors.DockerException, OSError, redis.RedisError) as exc:
                if self._stopping.is_set():
                    break
                log.warning("Log collector: Docker events ended (%s); listening again", exc)
                time.sleep(1)
                self._docker = None

    def wait_read(self, deadline: float) -> None:
        """Until every followed stream has been read to its end (the containers stopped), or `deadline`."""
        while time.monotonic() < deadline:
            with self._lock:
                if not any(t.is_alive() for t in self._following.values()):
                    break
            time.sleep(0.05)


def _resume_at(cursor: str | None) -> float | None:
    """Where to read a container from again: just after the last line read (None: from its start)."""
    seconds = docker_time(cursor)
    return seconds + 1e-6 if seconds else None
