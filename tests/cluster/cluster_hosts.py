"""Several Docker hosts on one machine, for the cluster tests and the cluster benchmark.

Each "host" is a network namespace with an address on a bridge that lives in a "switch" namespace of its own
(a bridge in the root namespace would not forward: dockerd sets FORWARD DROP there), its own dockerd
(own data root, exec root, socket and pid file, started with nsenter so that /sys/fs/cgroup stays visible)
holding the base and runtime images (docker save | docker load), and a faas-node. The root namespace
reaches the bridge through a veth of its own, and runs what the "control host" runs: Redis (a primary,
two replicas, three Sentinels), a registry (Debian's docker-registry), the front ends and the workers.
Every address is in a /24 that only these namespaces hold; everything is stopped and removed by `stop()`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from faas.runtimes import DEFAULT, RUNTIMES, Runtime
from helpers import Api, RedisSet, free_port, wait_for

BASE_DIR = Path("/var/lib/faas-cluster-test")
NODE_PORT = 8090
NODE_ENV = {"FAAS_HOST_MEMORY_MB": "3072", "FAAS_CELLS_MIN": "1", "FAAS_CELLS_MAX": "2", "FAAS_REAPER_INTERVAL": "0.2",
            "FAAS_QUEUE_TIMEOUT": "20"}


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def bases_present(runtimes: list[Runtime]) -> list[str]:
    """The base images of `runtimes` that the root engine holds (pulled from a registry or built locally)."""
    return [base for r in runtimes for base in (r.registry_base, r.local_base)
            if sh("docker", "image", "inspect", base, check=False).returncode == 0]


@dataclass
class Host:
    name: str
    ns: str
    ip: str
    dir: Path
    switch_port: str
    dockerd: subprocess.Popen | None = None
    node: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    @property
    def docker_host(self) -> str:
        return f"unix://{self.dir}/docker.sock"

    @property
    def address(self) -> str:
        return f"{self.ip}:{NODE_PORT}"


class Cluster:
    def __init__(self, hosts: int = 3, frontends: int = 2, workers: int = 2, registry: bool = True,
                 node_env: dict | None = None, log_dir: Path | None = None):
        self.tag = secrets.token_hex(2)
        self.net = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}"
        self.dir = BASE_DIR / self.tag
        self.log_dir = log_dir or self.dir / "logs"
        self.switch = f"fc{self.tag}sw"
        self.root_ip = f"{self.net}.1"
        self.hosts = [Host(f"h{i}", f"fc{self.tag}h{i}", f"{self.net}.{10 + i}", self.dir / f"h{i}",
                           f"fc{self.tag}s{i}") for i in range(1, hosts + 1)]
        self.n_frontends, self.n_workers, self.use_registry = frontends, workers, registry
        self.node_env = NODE_ENV | (node_env or {})
        self.platform_id = "c" + uuid.uuid4().hex[:8]
        self.token = "faas_admin_cluster_" + uuid.uuid4().hex
        self.node_token = "node-" + secrets.token_hex(16)
        self.frontends: list[subprocess.Popen] = []
        self.fe_ports: list[int] = []
        self.workers: subprocess.Popen | None = None
        self.registry: subprocess.Popen | None = None
        self.registry_address = ""
        self.redis: RedisSet | None = None
        self.made_netns: list[str] = []

    # -- the network
    def _network(self) -> None:
        sh("ip", "netns", "add", self.switch)
        self.made_netns.append(self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        root, root_peer = f"fc{self.tag}r", f"fc{self.tag}rs"
        sh("ip", "link", "add", root, "type", "veth", "peer", "name", root_peer)
        sh("ip", "link", "set", root_peer, "netns", self.switch)
        sh("ip", "-n", self.switch, "link", "set", root_peer, "master", "br0", "up")
        sh("ip", "addr", "add", f"{self.root_ip}/24", "dev", root)
        sh("ip", "link", "set", root, "up")
        for host in self.hosts:
            sh("ip", "netns", "add", host.ns)
            self.made_netns.append(host.ns)
            inner = f"fc{self.tag}{host.name}"
            sh("ip", "link", "add", inner, "type", "veth", "peer", "name", host.switch_port)
            sh("ip", "link", "set", inner, "netns", host.ns)
            sh("ip", "link", "set", host.switch_port, "netns", self.switch)
            sh("ip", "-n", self.switch, "link", "set", host.switch_port, "master", "br0", "up")
            sh("ip", "-n", host.ns, "link", "set", inner, "name", "eth0")
            sh("ip", "-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            sh("ip", "-n", host.ns, "link", "set", "eth0", "up")
            sh("ip", "-n", host.ns, "link", "set", "lo", "up")

    def cut(self, host: Host) -> None:
        """The host's cable is pulled: nothing reaches it, and it reaches nothing."""
        sh("ip", "-n", self.switch, "link", "set", host.switch_port, "down")

    def mend(self, host: Host) -> None:
        sh("ip", "-n", self.switch, "link", "set", host.switch_port, "up")

    # -- engines
    def _nsenter(self, host: Host) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{host.ns}"]

    def _dockerd(self, host: Host) -> None:
        host.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"dockerd-{host.name}.log", "ab")
        args = [*self._nsenter(host), "dockerd", "--data-root", str(host.dir / "data"), "--exec-root",
                str(host.dir / "exec"), "--pidfile", str(host.dir / "docker.pid"), "-H", host.docker_host,
                "--cgroup-parent", f"faas-{self.tag}-{host.name}"]
        if self.use_registry:
            args += ["--insecure-registry", self.registry_address]
        host.dockerd = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)

    def _docker_ok(self, host: Host) -> bool:
        return sh("docker", "-H", host.docker_host, "info", check=False).returncode == 0

    def _load_images(self, extra: list[str]) -> None:
        """The base and runtime images (and `extra` ones), from the root engine to each host's (in parallel)."""
        runtime = sh(sys.executable, "-m", "faas.builder.images", "runtime-tag").stdout.strip().splitlines()[-1]
        images = list(dict.fromkeys([runtime, *extra, *bases_present([RUNTIMES[DEFAULT]])]))
        procs = []
        for host in self.hosts:
            save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
            load = subprocess.Popen(["docker", "-H", host.docker_host, "load"], stdin=save.stdout,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            save.stdout.close()
            procs.append((save, load))
        for save, load in procs:
            _, err = load.communicate(timeout=300)
            assert save.wait(60) == 0 and load.returncode == 0, err
        self.runtime_image = runtime

    # -- the control host's parts
    def _registry(self) -> None:
        port = free_port(self.root_ip)
        self.registry_address = f"{self.root_ip}:{port}"
        conf = self.dir / "registry.yml"
        conf.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {self.dir / 'registry'}\n"
                        f"http:\n  addr: {self.registry_address}\nlog:\n  level: warn\n")
        log = open(self.log_dir / "registry.log", "ab")
        self.registry = subprocess.Popen(["docker-registry", "serve", str(conf)], stdout=log, stderr=log)
        wait_for(lambda: _answers(f"http://{self.registry_address}/v2/"), timeout=60, what="the registry")

    def common_env(self) -> dict:
        env = os.environ | {
            "FAAS_REDIS_URL": f"redis://{self.root_ip}:{self.redis.primary}/0",
            "FAAS_REDIS_SENTINELS": self.redis.sentinel_list, "FAAS_REDIS_SERVICE": self.redis.service,
            "FAAS_REDIS_PREFIX": f"faas-{self.platform_id}", "FAAS_PLATFORM_ID": self.platform_id,
            "FAAS_NODE_TOKEN": self.node_token, "FAAS_API_TOKEN": self.token,
        }
        env.pop("FAAS_TOKEN", None)
        env.pop("DOCKER_HOST", None)
        if self.use_registry:
            env["FAAS_REGISTRY"] = self.registry_address
        return env

    def start_node(self, host: Host) -> None:
        host.env = self.common_env() | self.node_env | {
            "FAAS_ROLE": "node", "FAAS_NODE_ID": host.name, "FAAS_HOST": host.ip, "FAAS_PORT": str(NODE_PORT),
            "DOCKER_HOST": host.docker_host, "FAAS_CELLS_DIR": str(host.dir / "cells")}
        log = open(self.log_dir / f"node-{host.name}.log", "ab")
        host.node = subprocess.Popen([*self._nsenter(host), sys.executable, "-m", "faas.cluster.node"], env=host.env,
                                     stdout=log, stderr=log, start_new_session=True)

    def node_up(self, host: Host) -> bool:
        return host.node is not None and host.node.poll() is None and _answers(f"http://{host.address}/healthz")

    def beating(self, host: Host) -> bool:
        """The node's heartbeat is in Redis."""
        conn = redis.Redis(self.root_ip, self.redis.primary_now(), socket_timeout=2)
        return bool(conn.exists(f"faas-{self.platform_id}:node:{host.name}"))

    def stop_node(self, host: Host, timeout: float = 60) -> None:
        if host.node is not None and host.node.poll() is None:
            host.node.send_signal(signal.SIGTERM)
            try:
                host.node.wait(timeout)
            except subprocess.TimeoutExpired:
                host.node.kill()
                host.node.wait()

    def _frontend(self, index: int) -> None:
        port = free_port()
        self.fe_ports.append(port)
        env = self.common_env() | {"FAAS_ROLE": "frontend", "FAAS_PORT": str(port), "DOCKER_HOST":
                                   self.hosts[0].docker_host, "FAAS_REDIS_MIN_REPLICAS": "1",
                                   "FAAS_FUNCTION_RETRY_BASE": "0.2", "FAAS_SYSTEM_RETRY_INITIAL": "0.2",
                                   "FAAS_SYSTEM_RETRY_MAX_WAIT": "1", "FAAS_WORKER_LEASE": "3",
                                   "FAAS_SWEEP_INTERVAL": "0.2", "FAAS_AUDIT_INTERVAL": "2"}
        if index == 0:
            self.fe_env = env
        log = open(self.log_dir / f"frontend-{index}.log", "ab")
        self.frontends.append(subprocess.Popen([sys.executable, "-m", "faas.server"], env=env, stdout=log, stderr=log,
                                               start_new_session=True))

    def api(self, index: int = 0) -> Api:
        return Api(f"http://127.0.0.1:{self.fe_ports[index]}", self.token)

    def node_api(self, host: Host, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 130)
        return requests.request(method, f"http://{host.address}{path}",
                                headers={"Authorization": f"Bearer {self.node_token}"}, **kw)

    # -- all of it
    def start_hosts(self, images: list[str] = ()) -> "Cluster":
        """The network, the registry and the hosts' engines with the base and runtime images (and `images`)."""
        self.dir.mkdir(parents=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._network()
            if self.use_registry:
                self._registry()
            for host in self.hosts:
                self._dockerd(host)
            wait_for(lambda: all(self._docker_ok(h) for h in self.hosts), timeout=60, what="the hosts' dockerds")
            self._load_images(list(images))
        except BaseException:
            self.stop()
            raise
        return self

    def start(self) -> "Cluster":
        self.start_hosts()
        try:
            self.redis = RedisSet(self.dir, host=self.root_ip)
            wait_for(self.redis.ready, timeout=30, what="the Sentinels to see both replicas")
            for host in self.hosts:
                self.start_node(host)
            wait_for(lambda: all(self.node_up(h) for h in self.hosts), timeout=120, what="the nodes")
            for i in range(self.n_frontends):
                self._frontend(i)
            wait_for(lambda: all(_answers(f"http://127.0.0.1:{p}/healthz") for p in self.fe_ports), timeout=120,
                     what="the front ends")
            if self.n_workers:
                log = open(self.log_dir / "workers.log", "ab")
                self.workers = subprocess.Popen([sys.executable, "-m", "faas.queue.worker", "--count",
                                                 str(self.n_workers)], env=self.fe_env, stdout=log, stderr=log,
                                                start_new_session=True)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[str]:
        """Stop and remove everything; returns the function containers the nodes left behind."""
        left = []
        _terminate(self.workers, group=False)  # the supervisor stops its workers (a second TERM would not wait)
        for proc in self.frontends:
            _terminate(proc)
        for host in self.hosts:
            self.mend(host) if host.dockerd is not None and self.switch in self.made_netns else None
            self.stop_node(host)
            if host.dockerd is not None and self._docker_ok(host):
                out = sh("docker", "-H", host.docker_host, "ps", "-a", "--filter",
                         f"label=faas.platform={self.platform_id}", "--filter", "label=faas.role=function",
                         "--format", "{{.Names}}", check=False).stdout.split()
                left += [f"{host.name}/{name}" for name in out]
                ids = sh("docker", "-H", host.docker_host, "ps", "-aq", check=False).stdout.split()
                if ids:
                    sh("docker", "-H", host.docker_host, "rm", "-f", *ids, check=False)
        for host in self.hosts:
            _terminate(host.dockerd, timeout=30)
        _terminate(self.registry)
        if self.redis is not None:
            self.redis.stop()
            for log in self.dir.glob("redis-*.log"):  # the servers' and Sentinels' own accounts, kept
                shutil.copy(log, self.log_dir / log.name)
        for ns in reversed(self.made_netns):
            sh("ip", "netns", "delete", ns, check=False)
        sh("ip", "link", "delete", f"fc{self.tag}r", check=False)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(str(self.dir))]
        for mount in sorted(mounts, reverse=True):
            sh("umount", "-l", mount, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        return left


def _terminate(proc: subprocess.Popen | None, timeout: float = 60, group: bool = True) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code < 500
    except requests.RequestException:
        return False
