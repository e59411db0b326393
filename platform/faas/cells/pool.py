"""Cells: started, generic runtime containers that wait for a function.

A cell is a container of a Python runtime's image (each runtime has its cells), with the isolation of any
function container (user, capabilities, read-only root, pids, network, memory), started with an empty,
read-only code directory and no function identity (FC_CELL=1). A cold start that finds a ready cell of its
class (its runtime and memory size) takes it:

1. the function version's files (unpacked once per image on the host, content-addressed; CodeStore) appear
   in the cell's /code and /var/fc/deps, read-only: moved there by a mount that propagates into the running
   container (mounts.place), or hard-linked where mounts are not permitted;
2. the host records which version the cell now serves (a file under `state/`, never seen by a container);
3. `POST /specialize` gives the runtime the function's environment; the pool then runs the initializer.

A cell serves that one version for its whole life: it is never returned here. One that fails to specialise
is removed. Ready cells count against the host memory budget, and go first when room is needed. The number
kept ready per class follows the recent cold starts of that class (`target`), between FAAS_CELLS_MIN and
FAAS_CELLS_MAX; the default class (the default runtime and memory size) always keeps FAAS_CELLS_MIN.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import defaults
from ..config import Settings
from ..docker_host import (
    LABEL_PLATFORM,
    LABEL_ROLE,
    ROLE_CELL,
    ContainerConfig,
    DockerHost,
    StartedContainer,
    is_running,
)
from ..errors import ContainerStartFailed, FaasError
from ..health import Health
from ..models import FunctionRecord
from ..pool.container import runtime_socket
from ..pool.http import ConnectionPool
from ..runtimes import DEFAULT, RUNTIMES, python_runtime
from .code import PARTS, CodeStore
from .demand import DEMAND_WINDOW_S, EXPECT_LEAD_S, RATE_WINDOW_S, REFILL_AFTER_MISS_S
from .demand import wanted as wanted_cells
from .slots import SlotFiles

log = logging.getLogger(__name__)

LABEL_CELL_CLASS = "faas.cell-class"
"""The memory class (memoryMB) a cell was started with."""

DEMAND_KEPT = 4096
"""Cold start times kept per class: enough for any rate the priced rule tells apart."""

CellClass = tuple[str, int]
"""Which cells a cold start may take: (the Python runtime whose image they run, their memoryMB)."""

DEFAULT_CLASS: CellClass = (DEFAULT, defaults.MEMORY_MB)

FAILED_START_BACKOFF_S = 5.0
REFILL_CONCURRENCY = 2
"""Cells started at once: refilling must not take the cores from the containers that serve."""

START_TIME_ENV = ("PYTHON", "LD_")
"""Environment variables with these prefixes act when the interpreter starts, which a cell has done already:
functions that set one start from their image."""


def why_not(record: FunctionRecord) -> str | None:
    """None when a cell may run `record`; else why its containers start from its image."""
    spec = record.spec
    if RUNTIMES[spec.runtime].serves_http:
        return f"its runtime is {spec.runtime}: its own server, not a handler a cell's runtime loads"
    if any(name.startswith(START_TIME_ENV) for name in spec.environment):
        return "its environment sets variables that act when the interpreter starts"
    if spec.docker_runtime is not None:  # cells are runc containers; a sandbox's code comes in its image
        return f"its sandbox is {spec.sandbox}"
    return None


@dataclass(eq=False)
class Cell:
    """One cell: Starting until its runtime listens, then ready in its class's queue."""

    memory_mb: int
    name: str
    slot: Path
    """Its directory on the host: `code` and `deps` below it are its /code and /var/fc/deps."""
    container_id: str = ""
    address: str = ""
    pid: int = 0
    socket: str = ""
    port: int = defaults.RUNTIME_PORT
    runtime: str = DEFAULT
    """The Python runtime whose image it runs."""
    conns: ConnectionPool | None = None
    created_at: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> str:
        return self.container_id[:12]


class CellPool:
    """The cells of one control plane: per memory class, the ready ones and the starts under way."""

    def __init__(self, settings: Settings, host: DockerHost, client, memory_free: Callable[[], int]):
        self.settings = settings
        self.host = host
        self.client = client
        self.memory_free = memory_free
        """Megabytes of the host budget not used by function containers and cells: refills stay within it."""
        self.root = settings.cells_dir / settings.platform_id
        self.code = CodeStore(self.root / "code", host)
        self.files = SlotFiles(self.root, self.code.root)
        self.enabled = settings.cells_max > 0
        self.images: dict[str, str] = {}
        """By Python runtime: the image its cells run (a runtime without one has no cells)."""
        self.ready: dict[CellClass, deque[Cell]] = {}
        self.starting: dict[CellClass, int] = {}
        self.demand: dict[CellClass, deque[float]] = {}
        """Per class, the times of its recent cold starts (the last RATE_WINDOW_S, at most DEMAND_KEPT)."""
        self.expected: dict[CellClass, deque[float]] = {}
        """Per class, when pre-warms are due (sorted)."""
        self.retry_at = 0.0
        self.closing = False
        self._slots = asyncio.Semaphore(REFILL_CONCURRENCY)
        self._refill_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self.health = Health("cells")

    # -- life of the pool
    async def start(self, runtime_images: dict[str, str]) -> None:
        """`runtime_images`: by Python runtime, the image its cells run (none: no cells)."""
        if not self.enabled or not runtime_images:
            self.enabled = False
            return
        self.images = dict(runtime_images)
        self.files.set_up(self.settings.cells_placement)
        log.info("Cells: %d to %d ready per class (runtimes %s), code placed by %s, in %s", self.settings.cells_min,
                 self.settings.cells_max, ", ".join(sorted(self.images)), self.files.placement, self.root)

    async def shutdown(self) -> None:
        """Remove every cell not yet specialised (the pool removes the specialised ones, its instances)."""
        self.closing = True
        if self._refill_timer is not None:
            self._refill_timer.cancel()
        # Not cancelled: a start cut short in its Docker call would leave its container behind. Each start
        # under way removes its cell once done, seeing `closing`.
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        cells = self.all_ready()
        self.ready.clear()
        await asyncio.gather(*(self.remove(c) for c in cells), return_exceptions=True)

    def repair(self) -> None:
        """Set up again what the pool set up and lost (its directories, its mounts: removed by hand, or by a
        process that took them for its own): the ready cells, which followed the lost mounts, are replaced."""
        if not self.enabled or self.closing:
            return
        lost = self.files.lost()
        if not lost:
            return
        log.warning("Cells: %s lost; setting them up again and replacing the ready cells",
                    ", ".join(str(p) for p in lost))
        self.health.failed(f"{lost[0]} was lost and set up again")
        try:
            self.files.set_up_again()
        except OSError as exc:
            log.warning("Cells: setting up %s again failed: %s", self.root, exc)
            self.health.failed(f"setting up {self.root} again failed: {exc}")
            return
        self.code.forget()
        for cell in self.all_ready():
            self.drop(cell)  # (removed in the background)
        self.refill()

    def finish(self) -> None:
        """Once no container uses them: the mounts of the pool's directories go."""
        if self.enabled:
            self.files.finish()

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what there is
    def all_ready(self) -> list[Cell]:
        """The ready cells of every class (a copy: the caller may drop some)."""
        return [c for q in self.ready.values() for c in q]

    def memory_used(self) -> int:
        return sum(c.memory_mb for c in self.all_ready()) + sum(mb * n for (_, mb), n in self.starting.items())

    def by_container(self, container_id: str) -> Cell | None:
        return next((c for c in self.all_ready() if c.container_id == container_id), None)

    def known(self) -> set[str]:
        return {c.container_id for c in self.all_ready() if c.container_id}

    # -- taking one
    def take(self, record: FunctionRecord, demand: bool = True) -> tuple[Cell, Path] | None:
        """A ready cell for a cold start of `record`, and the version's unpacked files; None when the start
        must use the image (not a case for cells, files not unpacked yet, or no cell ready). Counts the
        demand either way (a pre-warm, not `demand`, uses up the cell kept for it instead), and refills."""
        base = self._base(record)
        if not self.enabled or self.closing or base is None:
            return None
        key = self._key(record)
        now = time.monotonic()
        if demand:
            self.demand.setdefault(key, deque(maxlen=DEMAND_KEPT)).append(now)
        elif self.expected.get(key):
            self.expected[key].popleft()
        code = self.code.ready(record.image)
        if code is None:
            self.code.prepare(record.image, base)
        queue = self.ready.get(key)
        if code is not None and queue:
            cell = queue.popleft()
            self.refill()
            return cell, code
        if self._refill_timer is None:
            def later() -> None:
                self._refill_timer = None
                self.refill()
            self._refill_timer = asyncio.get_running_loop().call_later(REFILL_AFTER_MISS_S, later)
        return None

    def unexpect(self, record: FunctionRecord, at: float) -> None:
        """The pre-warm of `record` due at `at` will not come: a call came first."""
        expected = self.expected.get(self._key(record))
        if expected:
            try:
                expected.remove(at)
            except ValueError:
                pass

    @staticmethod
    def _key(record: FunctionRecord) -> CellClass:
        return python_runtime(record.spec.runtime).name, record.spec.memory_mb

    def _base(self, record: FunctionRecord) -> str | None:
        """The runtime image of the cells that may run `record` (None: no cell may)."""
        if why_not(record) is not None:
            return None
        return self.images.get(python_runtime(record.spec.runtime).name)

    def prepare(self, record: FunctionRecord) -> None:
        """Unpack `record`'s files ahead of its first cold start."""
        base = self._base(record)
        if self.enabled and base is not None:
            self.code.prepare(record.image, base)

    async def unpack(self, record: FunctionRecord) -> None:
        """Unpack `record`'s files now, if cells may run it."""
        base = self._base(record)
        if self.enabled and base is not None:
            await self.code.ensure(record.image, base)

    async def specialise(self, cell: Cell, code: Path, record: FunctionRecord, environment: dict[str, str],
                         config: str, layers: Path | None = None) -> None:
        """Make `cell` the container of `record`: its files (and its layers', `layers`) placed, the host's record
        of it written, the runtime told its environment. ContainerStartFailed when any step fails (the caller
        removes the cell)."""
        try:
            await self._specialise(cell, code, record, environment, config, layers)
        except ContainerStartFailed as exc:
            self.health.failed(str(exc))
            raise
        self.health.succeeded()

    async def _specialise(self, cell: Cell, code: Path, record: FunctionRecord, environment: dict[str, str],
                          config: str, layers: Path | None) -> None:
        try:
            marker = {"function": record.name, "functionId": record.function_id, "versionId": record.version_id,
                      "revision": record.revision, "config": config, "image": record.image,
                      "memoryMB": cell.memory_mb, "slot": cell.slot.name, "code": code.name}
            self.files.write_state(cell.container_id, marker)
            for name in PARTS:
                self.files.place(code / name, cell.slot / name)
            if layers is not None:
                self.files.place(layers, cell.slot / "opt")
        except OSError as exc:
            raise ContainerStartFailed(f"cell {cell.id}: placing the code failed: {exc}") from exc
        try:
            reply = await self.client.specialize(cell, environment)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ContainerStartFailed(f"cell {cell.id} did not answer /specialize: {exc}") from exc
        if reply.status != 200:
            raise ContainerStartFailed(f"cell {cell.id} refused /specialize: {reply.body[:200]!r}")

    def clear_stale(self, keep: set[str]) -> None:
        """Slots and state files of cells that are gone (a control plane that was killed left them). Call it
        before the first refill: the slots of cells starting are not in `keep`."""
        self.files.clear_stale(keep | {c.slot.name for c in self.all_ready()})

    # -- keeping cells ready
    def targets(self, now: float) -> dict[CellClass, int]:
        minimum, maximum = self.settings.cells_min, self.settings.cells_max
        result = {}
        for key in (set(self.demand) | set(self.ready) | set(self.expected)
                    | ({DEFAULT_CLASS} if DEFAULT in self.images else set())):
            recent = self.demand.get(key) or deque()
            while recent and now - recent[0] > RATE_WINDOW_S:
                recent.popleft()
            minute = len(recent) - bisect.bisect_right(recent, now - DEMAND_WINDOW_S)
            expected = self.expected.get(key)
            while expected and expected[0] < now - EXPECT_LEAD_S:
                expected.popleft()
            due = bisect.bisect_right(expected, now + EXPECT_LEAD_S) if expected else 0
            result[key] = wanted_cells(minute, len(recent), key == DEFAULT_CLASS, key[1], minimum, maximum, due)
        return result

    def expect(self, record: FunctionRecord, at: float) -> None:
        """A pre-warm of `record` is due at `at` (monotonic): a cell of its class is kept ready for it from
        EXPECT_LEAD_S before."""
        if not self.enabled or self.closing or self._base(record) is None:
            return
        bisect.insort(self.expected.setdefault(self._key(record), deque()), at)
        loop = asyncio.get_running_loop()
        loop.call_at(max(loop.time(), at - EXPECT_LEAD_S), self.refill)

    def refill(self) -> None:
        """Start cells where a class has fewer ready or starting than its target, within the memory budget;
        remove the surplus of classes whose demand fell."""
        if not self.enabled or self.closing:
            return
        now = time.monotonic()
        for key, wanted in self.targets(now).items():
            mb = key[1]
            queue = self.ready.setdefault(key, deque())
            have = len(queue) + self.starting.get(key, 0)
            while have > wanted and queue:
                self.spawn(self.remove(queue.pop()))
                have -= 1
            if now < self.retry_at:
                continue
            while have < wanted and self.memory_free() >= mb:
                self.starting[key] = self.starting.get(key, 0) + 1
                self.spawn(self._start(key))
                have += 1

    def evict(self, need_mb: int) -> int:
        """Remove ready cells (the largest classes first) until `need_mb` is freed; returns what was freed."""
        freed = 0
        for key in sorted(self.ready, key=lambda k: k[1], reverse=True):
            queue = self.ready[key]
            while queue and freed < need_mb:
                self.spawn(self.remove(queue.pop()))
                freed += key[1]
        return freed

    def drop(self, cell: Cell) -> bool:
        """Docker says `cell` died: it leaves the ready queue (True when it was there)."""
        queue = self.ready.get((cell.runtime, cell.memory_mb))
        if queue is not None and cell in queue:
            queue.remove(cell)
            self.spawn(self.remove(cell))
            return True
        return False

    def config(self, cell: Cell) -> ContainerConfig:
        return ContainerConfig(
            image=self.images.get(cell.runtime, ""), name=cell.name,
            labels={LABEL_PLATFORM: self.settings.platform_id, LABEL_ROLE: ROLE_CELL,
                    LABEL_CELL_CLASS: str(cell.memory_mb)},
            environment={"FC_CELL": "1", "FC_SERVER_PORT": str(defaults.RUNTIME_PORT),
                         "FC_SERVER_SOCKET": runtime_socket(self.settings)},
            memory_mb=cell.memory_mb,
            mounts=self.files.mounts(cell.slot),
            propagation=self.files.propagation,
        )

    async def _start(self, key: CellClass) -> None:
        runtime, mb = key
        name = f"faas-cell-{mb}m-{secrets.token_hex(6)}"
        cell = Cell(memory_mb=mb, name=name, slot=self.files.slots / name, runtime=runtime)
        ok = False
        try:
            async with self._slots:
                if self.closing:
                    return
                self.files.make(cell.slot)
                started: StartedContainer = await self.host.start_container(self.config(cell))
                cell.container_id, cell.address, cell.pid, cell.socket = (started.id, started.address, started.pid,
                                                                          started.socket)
                await self.client.wait_ready(cell, self.settings.ready_timeout,
                                             lambda: is_running(self.host, cell.container_id))
                ok = True
        except (FaasError, OSError) as exc:
            log.warning("Cells: a cell of %s, %d MB did not start: %s", runtime, mb, exc)
            self.health.failed(f"a cell did not start: {exc}")
            self.retry_at = time.monotonic() + FAILED_START_BACKOFF_S
        finally:
            self.starting[key] -= 1
            if not ok:
                await self.remove(cell)
        if ok:
            if self.closing:
                await self.remove(cell)
            else:
                self.health.succeeded()
                self.ready.setdefault(key, deque()).append(cell)
                log.debug("Cells: cell %s (%s, %d MB) ready in %.0f ms", cell.id, runtime, mb,
                          (time.monotonic() - cell.created_at) * 1000)

    async def remove(self, cell: Cell) -> None:
        if cell.conns is not None:
            cell.conns.close()
        try:
            if cell.container_id:
                await self.host.remove_container(cell.container_id)
        except Exception as exc:
            log.warning("Cells: removal of cell %s failed: %s", cell.id, exc)
        self.files.release(cell.container_id, cell.slot)

