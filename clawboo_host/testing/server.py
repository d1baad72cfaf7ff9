"""Run a host app on a real loopback socket in a background thread (for tests)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from ..cli import bind_socket
from ..http_server import uvicorn_config

#: ``python -c DROP_CAPABILITIES prog args...``: exec ``prog`` with every capability dropped
#: (``PR_CAPBSET_DROP`` each, then exec), as an ordinary user's process would run.
DROP_CAPABILITIES = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "for cap in range(64):\n"
    "    libc.prctl(24, cap, 0, 0, 0)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


class LiveServer:
    """``with LiveServer(app_factory) as server: httpx.get(server.url + "/api/runtimes")``.

    ``app_factory(port)`` builds the app once the port is known (the host needs its bound
    port for MCP attach URLs). Entering waits until the host's board has started too (it
    starts in the background after the port is bound), unless ``wait_for_board=False``.
    """

    def __init__(self, app_factory, host: str = "127.0.0.1", *, wait_for_board: bool = True):
        self._factory = app_factory
        self.host = host
        self._wait_for_board = wait_for_board
        self.port: int | None = None
        self.app = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, **kwargs) -> httpx.Client:
        kwargs.setdefault("timeout", 60.0)
        return httpx.Client(base_url=self.url, **kwargs)

    def __enter__(self) -> LiveServer:
        sock = bind_socket(self.host, 0)
        self.port = sock.getsockname()[1]
        self.app = self._factory(self.port)
        config = uvicorn_config(self.app, lifespan="on", timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])), daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._started():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def _started(self) -> bool:
        if not self._server.started:
            return False
        host = getattr(self.app.state, "host", None)
        if not self._wait_for_board or host is None:
            return True
        host.want_board()  # do not wait out the idle delay
        return host.start_finished

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)


@dataclass
class ServedProcess:
    """A running ``clawboo-host serve``: its port and process (e.g. to SIGKILL it)."""

    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def server_process(
    args: list[str],
    env: dict,
    data_dir: Path,
    timeout: float = 60.0,
    log: Path | None = None,
    command: list[str] | None = None,
    *,
    unprivileged: bool = False,
):
    """Run ``clawboo-host serve <args>`` as a real process; yield its bound port.

    The port is read from ``<data_dir>/api-port.txt``; the process is terminated on exit.
    ``log``: write the server's output there (a long-lived server must not fill a pipe).
    ``command``: the ``clawboo-host`` to run (default: this interpreter's).
    ``unprivileged``: when the tests run as root, the server gets no capabilities, as it
    would have when run by an ordinary user.
    """
    with serve_process(
        args, env, data_dir, timeout=timeout, log=log, command=command, unprivileged=unprivileged
    ) as served:
        yield served.port


@contextmanager
def serve_process(
    args: list[str],
    env: dict,
    data_dir: Path,
    timeout: float = 60.0,
    log: Path | None = None,
    command: list[str] | None = None,
    *,
    unprivileged: bool = False,
):
    """As :func:`server_process`, yielding a :class:`ServedProcess`."""
    port_file = data_dir / "api-port.txt"
    out = open(log, "w") if log is not None else subprocess.PIPE  # noqa: SIM115
    drop = unprivileged and os.geteuid() == 0
    launcher = [sys.executable, "-c", DROP_CAPABILITIES] if drop else []
    proc = subprocess.Popen(
        [*launcher, *(command or [sys.executable, "-m", "clawboo_host.cli"]), "serve", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                early = proc.stdout.read() if log is None else log.read_text()
                raise RuntimeError(f"server exited early: {early}")
            if port_file.exists() and port_file.read_text().strip():
                port = int(port_file.read_text().strip())
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/runtimes", timeout=5)
                    break
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not come up")
            time.sleep(0.05)
        yield ServedProcess(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not None:
            out.close()


def serving_pid(port: int) -> int:
    """The pid of the ``clawboo-host serve`` process listening on loopback ``port``."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "clawboo_host.cli" in cmd and "serve" in cmd:
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(c.laddr and c.laddr.port == port and not c.raddr for c in conns):
                return proc.pid
    raise LookupError(f"no clawboo-host serve process listens on port {port}")
