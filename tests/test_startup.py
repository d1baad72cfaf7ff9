"""Start-up does only what the first request needs: the MCP SDK is imported only when a run
or an MCP request needs it (in the background), and the MCP tasks server still answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import anyio

from clawboo_host.board.store import BoardStore
from clawboo_host.config import HostConfig
from clawboo_host.mcp_lazy import LazyMcpTasks
from clawboo_host.run import Executor
from clawboo_host.testing.helpers import create_task, wait_until


def test_building_the_app_imports_nothing_the_first_runtime_list_does_not_need(tmp_path):
    """The MCP SDK (runs), the vault's cipher (keys), PyYAML (Hermes runs) and SQLAlchemy (the
    board, opened after the first list) are imported when used, not before the first runtime
    list (together they cost about half a second of it)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from clawboo_host.app import create_app\n"
        "from clawboo_host.cli import main\n"
        "from clawboo_host.config import HostConfig\n"
        "env = {'CLAWBOO_ENABLE_MOCK_RUNTIME': '1'}\n"
        "create_app(HostConfig(data_dir=Path(sys.argv[1]), env=env))\n"
        "lazy = ('mcp', 'cryptography', 'yaml', 'sqlalchemy', 'alembic')\n"
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


# ── the board starts after the port is bound ────────────────────────────────────────────────


def _left_behind_by_a_crash(data_dir: Path) -> dict[str, str]:
    """A board a killed host left: a task in progress whose run's process is gone, and a
    fresh ``todo`` task."""
    store = BoardStore(HostConfig(data_dir=data_dir, env={}).database_url)
    store.open()
    try:
        crashed = store.create_task("crashed")
        assert store.claim(crashed["id"], "codex", "codex")
        run = store.create_execution(crashed["id"], "codex", owner_pid=1, owner_boot="gone")
        fresh = store.create_task("fresh")
    finally:
        store.close()
    return {"crashed": crashed["id"], "run": run["id"], "fresh": fresh["id"]}


def _read_board(data_dir: Path, read):
    store = BoardStore(HostConfig(data_dir=data_dir, env={}).database_url)
    store.open()
    try:
        return read(store)
    finally:
        store.close()


def test_a_run_asked_for_during_the_recovery_sweep_waits_for_it_then_succeeds(
    clawboo_host_factory, clawboo_env, clawboo_data_dir, git_repo, monkeypatch
):
    ids = _left_behind_by_a_crash(clawboo_data_dir)
    sweep_may_run = threading.Event()
    recover = Executor.recover

    async def held_recover(self, *args, **kwargs):
        await anyio.to_thread.run_sync(sweep_may_run.wait)
        return await recover(self, *args, **kwargs)

    monkeypatch.setattr(Executor, "recover", held_recover)
    try:
        server = clawboo_host_factory(
            env=dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1"), wait_for_board=False
        )
        host = server.app.state.host
        waiting: list[str] = []
        board_started = host.board_started

        async def recording_board_started() -> None:
            waiting.append("a request")
            await board_started()

        host.board_started = recording_board_started
        with server.client() as client:
            # the runtime list does not wait for the board
            assert client.get("/api/runtimes").status_code == 200
            answer: dict = {}

            def ask_for_a_run() -> None:
                with server.client() as c:
                    answer["run"] = c.post(
                        "/api/runtimes/clawboo-mock/run",
                        json={"taskId": ids["fresh"], "repoPath": str(git_repo)},
                    )

            asker = threading.Thread(target=ask_for_a_run)
            asker.start()
            wait_until(lambda: waiting, what="the run request to wait for the board")
            # the sweep is held: the run has claimed nothing, the crashed run is still open
            fresh = _read_board(clawboo_data_dir, lambda b: b.get_task(ids["fresh"]))
            assert fresh["status"] == "todo"
            sweep_may_run.set()
            asker.join(timeout=60)
            assert answer["run"].status_code == 200, answer["run"].text
            assert answer["run"].json()["doneReason"] == "success"
            crashed = client.get(f"/api/board/tasks/{ids['crashed']}").json()
            assert crashed["task"]["status"] == "todo"
            assert [(e["id"], e["status"]) for e in crashed["executions"]] == [
                (ids["run"], "failed")
            ]
    finally:
        sweep_may_run.set()


def test_a_host_nobody_asks_anything_still_starts_its_board_and_sweeps(
    clawboo_host_factory, clawboo_data_dir
):
    ids = _left_behind_by_a_crash(clawboo_data_dir)
    server = clawboo_host_factory(wait_for_board=False)
    host = server.app.state.host
    wait_until(lambda: host.start_finished, what="the board to start on its own")
    assert not host.start_failed
    run = _read_board(clawboo_data_dir, lambda b: b.get_execution(ids["run"]))
    assert run["status"] == "failed"


def test_a_board_that_cannot_start_is_a_503_and_the_runtime_list_still_answers(
    clawboo_host_factory, clawboo_data_dir
):
    (clawboo_data_dir / "clawboo.db").mkdir()  # not a database file
    server = clawboo_host_factory()
    assert server.app.state.host.start_failed
    with server.client() as client:
        assert client.get("/api/runtimes").status_code == 200
        r = client.get("/api/board/tasks")
        assert r.status_code == 503
        assert r.json() == {"error": "the board is not available (see the host's log)"}


def test_serve_exits_1_when_its_board_cannot_start(tmp_path, clawboo_env):
    data = tmp_path / "data"
    (data / "clawboo.db").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "clawboo_host.cli", "serve", "--port", "0", "--data-dir", str(data)],
        env=clawboo_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "the board could not be started" in proc.stderr


def test_the_deferred_board_is_built_once_on_first_use(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from clawboo_host.board.deferred import DeferredBoard
    from clawboo_host.board.store import BoardStore

    board = DeferredBoard(tmp_path / "board.db")
    assert board._store is None and not (tmp_path / "board.db").exists()
    with ThreadPoolExecutor(8) as pool:
        dialects = list(pool.map(lambda _: board.dialect, range(32)))
    assert dialects == ["sqlite"] * 32
    assert isinstance(board._store, BoardStore)
    board.open()
    assert board.list_tasks() == [] and (tmp_path / "board.db").exists()
    board.close()
