"""A real Ray cluster on 127.0.0.1 for tests and benches: a head and worker nodes, each ``ray start --block``
with ``--num-cpus 1`` in a session of its own, all under one private ``--temp-dir``.

It is stopped by the processes it started, never by ``ray stop`` (which would stop every Ray process on the
machine): each node's ``ray start`` leads a session of its own, which its raylet, agents and workers share
(workers take process groups of their own, not sessions). Stopping sends the node's ``ray start`` SIGTERM
(it drains the node and ends its children), then kills whatever is left in that session; ``kill`` kills the
session at once, as a failed machine would.
Token authentication is off for this private cluster (``RAY_AUTH_MODE=disabled`` in ``env()``, which its
drivers use too), so it never depends on, or writes, a token in the user's home.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE_BYTES = 200 * 1024 * 1024
START_TIMEOUT_S = 180.0
STOP_GRACE_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    process: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def processes(self) -> dict[int, str]:
        """The live processes of this node (its session) by PID, with their command lines (zombies left out)."""
        found = {}
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    zombie = (proc / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
                    if os.getsid(int(proc.name)) == self.process.pid and not zombie:
                        found[int(proc.name)] = (
                            (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                        )
        return found

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process of this node's session (none of them anyone else's)."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


@dataclass
class LocalCluster:
    """Nodes of one CPU each on this machine; ``address`` is the head's GCS ``host:port``."""

    temp_dir: Path
    cpus_per_node: int = 1
    nodes: list[Node] = field(default_factory=list)
    address: str = ""

    def env(self) -> dict[str, str]:
        return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}

    def _start(self, *args: str) -> Node:
        ports = [
            *("--node-manager-port", str(free_port()), "--object-manager-port", str(free_port())),
            *("--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port())),
            *("--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port())),
        ]
        common = ["--num-cpus", str(self.cpus_per_node), "--object-store-memory", str(OBJECT_STORE_BYTES)]
        common += ["--temp-dir", str(self.temp_dir), "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
        log = self.temp_dir / f"node-{len(self.nodes)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(RAY), "start", "--block", *args, *common, *ports],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                start_new_session=True,  # its own process group: stopped by it, never by name
            )
        node = Node(process, log)
        self.nodes.append(node)
        return node

    def start(self, workers: int = 1) -> LocalCluster:
        """Start the head, then ``workers`` worker nodes; return once all have joined."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        try:
            head = ["--head", "--port", str(port), "--include-dashboard", "false", "--dashboard-port", str(free_port())]
            self._start(*head)
            self.wait_for(1)
            for _ in range(workers):
                self.add_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self) -> Node:
        before = self.count()
        node = self._start("--address", self.address)
        self.wait_for(before + 1)
        return node

    def count(self) -> int:
        """Alive nodes, as the head sees them (``ray status``: the lines under "Active:")."""
        result = subprocess.run(
            [str(RAY), "status", "--address", self.address], capture_output=True, text=True, env=self.env(), timeout=60
        )
        if result.returncode != 0 or "Active:" not in result.stdout:
            return 0
        active = result.stdout.split("Active:", 1)[1].split("Pending:", 1)[0]
        return sum("node_" in line for line in active.splitlines())

    def wait_for(self, nodes: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.count() < nodes:
            dead = [n for n in self.nodes if not n.alive]
            if dead or time.monotonic() > deadline:
                tail = dead[0].log.read_text(errors="replace")[-2000:] if dead else ""
                raise RuntimeError(f"the Ray cluster did not reach {nodes} nodes: {tail}")
            time.sleep(1)

    def kill(self, node: Node) -> None:
        """End a worker node at once (SIGKILL to its whole session), as if its machine failed."""
        node.signal(signal.SIGKILL)
        node.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop every node this cluster started (workers first, the head last), and only those."""
        for node in reversed(self.nodes):
            if node.alive:
                node.process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.process.wait(timeout=STOP_GRACE_S)
            node.signal(signal.SIGKILL)  # anything it left behind
            if node.process.poll() is None:
                node.process.wait(timeout=30)
            deadline = time.monotonic() + 30
            while node.processes() and time.monotonic() < deadline:  # a SIGKILL takes effect asynchronously
                time.sleep(0.2)
