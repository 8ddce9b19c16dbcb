"""A real two-node Ray cluster on one machine, for the multi-node test: `ray start --head` plus a
second `ray start --address`, each with its own resources, ports and processes, token auth on.

Nothing is shared with other Ray runtimes on the machine: explicit free ports, a private temp
dir, a private token file (never ~/.ray/auth_token). Teardown ends only what this class
started: the process group of each `ray start --block` (the node's GCS, raylet, dashboard and
workers), then any process whose command line names the private temp dir. Never `ray stop`,
which would stop every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
WORKER_PORTS = 24  # one per worker process a node may run at once


def free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalCluster:
    """Head + one worker node; `env` is what every `ray`/`depthdif` command of the test runs with."""

    def __init__(self, cpus_per_node: int = 1, extra_env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="dd-ray-", dir="/tmp"))  # short: AF_UNIX path limit
        self.token_path = self.root / "auth_token"
        self.token_path.write_text(secrets.token_hex(32))
        os.chmod(self.token_path, 0o600)
        self.temp_dir = self.root / "ray"
        self.cpus = cpus_per_node
        ports = free_ports(3)
        self.gcs_port, self.dashboard_port, self.client_port = ports
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
        self.env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_path),
                         "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                         "RAY_USAGE_STATS_ENABLED": "0", **(extra_env or {})})
        self.env.pop("RAY_AUTH_TOKEN", None)
        self.nodes: list[subprocess.Popen] = []

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _node_ports(self) -> list[str]:
        node, objects, agent, agent_grpc, env_agent, metrics, *workers = free_ports(6 + WORKER_PORTS)
        return ["--node-manager-port", str(node), "--object-manager-port", str(objects),
                "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
                "--runtime-env-agent-port", str(env_agent), "--metrics-export-port", str(metrics),
                "--worker-port-list", ",".join(map(str, workers))]

    def _start_node(self, args: list[str], resources: dict[str, float], log: str) -> None:
        cmd = [str(BIN / "ray"), "start", "--block", "--node-ip-address", "127.0.0.1",
               "--num-cpus", str(self.cpus), "--resources", json.dumps(resources),
               "--object-store-memory", str(80 * 1024**2), "--temp-dir", str(self.temp_dir),
               "--disable-usage-stats", *self._node_ports(), *args]
        with open(self.root / log, "w") as out:
            self.nodes.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                               start_new_session=True))

    def start(self, timeout_s: float = 180) -> "LocalCluster":
        self._start_node(["--head", "--port", str(self.gcs_port), "--include-dashboard", "true",
                          "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port),
                          "--ray-client-server-port", str(self.client_port)], {"head_node": 1}, "head.log")
        self.wait_for(lambda: len(self.alive_nodes()) == 1, timeout_s, "the head node")
        self._start_node(["--address", f"127.0.0.1:{self.gcs_port}"], {"worker_node": 1}, "worker.log")
        self.wait_for(lambda: len(self.alive_nodes()) == 2, timeout_s, "the worker node")
        return self

    def wait_for(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            dead = [p.args[4] if len(p.args) > 4 else p.args for p in self.nodes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a ray node exited while waiting for {what}: {self.logs()}")
            try:
                if predicate():
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass  # not up yet
            time.sleep(1.0)
        raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.root.glob("*.log")))

    # --- the dashboard's REST API (the same one `ray job` and `ray list` use) -----------------
    def get(self, route: str, token: str | None = "default") -> Any:
        token = self.token_path.read_text() if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.dashboard + route, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def state(self, kind: str, **filters: str) -> list[dict]:
        """`ray list <kind>` through the state API, dead entries included, as dicts."""
        query = "&".join(f"filter_keys={k}&filter_predicates=%3D&filter_values={v}" for k, v in filters.items())
        payload = self.get(f"/api/v0/{kind}?limit=1000&detail=true&{query}")
        return payload["data"]["result"]["result"]

    def alive_nodes(self) -> list[dict]:
        return [n for n in self.state("nodes") if n["state"] == "ALIVE"]

    # --- CLI ---------------------------------------------------------------------------------
    def ray(self, *args: str, timeout_s: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        """A `ray …` command against this cluster's dashboard, with its token."""
        done = subprocess.run([str(BIN / "ray"), *args], env={**self.env, "RAY_ADDRESS": self.dashboard},
                              capture_output=True, text=True, timeout=timeout_s)
        if check and done.returncode != 0:
            raise RuntimeError(f"ray {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                               f"{done.stderr[-4000:]}")
        return done

    # --- teardown: only what we started ------------------------------------------------------
    def shutdown(self) -> None:
        for job in self._running_jobs():
            self.ray("job", "stop", job, check=False, timeout_s=60)
        self._signal_groups(signal.SIGTERM)
        deadline = time.time() + 20
        while time.time() < deadline and self._our_stragglers():
            time.sleep(0.5)
        self._signal_groups(signal.SIGKILL)
        for pid in self._our_stragglers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.nodes:
            proc.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def _signal_groups(self, sig: int) -> None:
        for proc in reversed(self.nodes):  # worker node first
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    def _running_jobs(self) -> list[str]:
        try:
            jobs = self.get("/api/jobs/")
        except Exception:  # noqa: BLE001 - the head is already gone
            return []
        return [j["submission_id"] for j in jobs if j.get("status") in ("PENDING", "RUNNING") and j.get("submission_id")]

    def _our_stragglers(self) -> list[int]:
        """Processes started with this cluster's private token path in their environment (every
        Ray process of its nodes and every job driver inherits it): ours, and only ours."""
        mine = []
        marker = f"RAY_AUTH_TOKEN_PATH={self.token_path}".encode()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        mine.append(int(entry.name))
                except OSError:
                    continue
        return mine
