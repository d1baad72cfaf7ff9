"""Start-up does only what the first request needs: the MCP SDK is imported only when a run
or an MCP request needs it (in the background), and the MCP tasks server still answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from clawboo_host.mcp_lazy import LazyMcpTasks
from clawboo_host.testing.helpers import create_task, wait_until


def test_building_the_app_imports_nothing_the_first_runtime_list_does_not_need(tmp_path):
    """The MCP SDK (runs), the vault's cipher (keys) and PyYAML (Hermes runs) are imported
    when used, not by every start (together they cost about 0.35 s of it)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from clawboo_host.app import create_app\n"
        "from clawboo_host.cli import main\n"
        "from clawboo_host.config import HostConfig\n"
        "env = {'CLAWBOO_ENABLE_MOCK_RUNTIME': '1'}\n"
        "create_app(HostConfig(data_dir=Path(sys.argv[1]), env=env))\n"
        "lazy = ('mcp', 'cryptography', 'yaml')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(lazy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_mcp_route_answers_once_the_background_start_is_done(clawboo_host_factory):
    server = clawboo_host_factory()
    with server.client() as client:
        assert client.get("/api/runtimes").status_code == 200
        # no run token: the tasks server's own 401, not the start-up 503
        response = client.post("/api/mcp/tasks", json={})
        assert response.status_code == 401, response.text


def test_a_host_that_never_needs_the_mcp_server_never_imports_it():
    built = []
    lazy = LazyMcpTasks(built.append)

    async def start_and_stop() -> None:
        async with lazy.lifespan():
            pass

    asyncio.run(start_and_stop())
    assert built == []


def test_the_first_mcp_capable_run_starts_the_tasks_server(
    clawboo_host_factory, clawboo_env, git_repo
):
    server = clawboo_host_factory(env=dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1"))
    lazy = server.app.state.mcp_tasks
    with server.client() as client:
        assert client.get("/api/runtimes").status_code == 200
        assert lazy.tasks is None  # listing runtimes needs no MCP SDK
        task_id = create_task(client, "Say hi", "")["id"]
        r = client.post(
            "/api/runtimes/clawboo-mock/run", json={"taskId": task_id, "repoPath": str(git_repo)}
        )
        assert r.status_code == 200 and r.json()["doneReason"] == "success", r.text
        wait_until(lambda: lazy.tasks is not None, what="the MCP tasks server to start")
