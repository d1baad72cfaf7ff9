"""The conformance suite every runtime plugin runs, by subclassing it in ten lines::

    import my_runtime
    from clawboo_host.testing.conformance import RuntimeConformanceTests

    from .conftest import FakeMyCli              # your TranscriptFake subclass

    class TestMyRuntime(RuntimeConformanceTests):
        plugin = my_runtime          # the module your entry point names
        runtime_id = "my-runtime"    # your entry-point name
        fake_cli = FakeMyCli         # your fake CLI: the run tests drive it through the host

Each test starts a real host on a loopback port with only your plugin loaded, in an isolated
environment (see the ``clawboo_env`` fixture), and talks to it over HTTP.

With ``fake_cli`` set (a :class:`~clawboo_host.testing.fakes.TranscriptFake` subclass whose
transcripts include ``answer_scenario``, ``mcp_scenario`` and, unless ``None``,
``max_turns_scenario``), the kit also runs tasks through that host in a real git repository:
a run that edits a file ends ``in_review`` with a commit on the task branch; the fake calls
``add_comment`` over MCP with the run's token and the comment lands; an abort mid-run kills
a SIGTERM-ignoring grandchild and releases the task; max turns ends ``max_turns``; a run
without the CLI fails cleanly; and the install hook works against a fake npm/pipx. Override
:meth:`prepare_run_env` (a login file, a user config) and :meth:`connect_for_runs` when your
runtime is made ready another way than a pasted key.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import ModuleType

import pytest

from ..plugin_api import HOOK_NAMES, RuntimeDescriptor
from ..registry import MOCK_RUNTIME_ID
from .fakes import TranscriptFake, still_running
from .helpers import connect, create_task, git, run_task, task_detail, wait_until

ROW_KEYS = [
    "id",
    "participantKind",
    "capabilities",
    "health",
    "name",
    "installed",
    "binPath",
    "builtIn",
    "authKind",
    "envVar",
    "hasCredential",
    "hasVaultCredential",
    "loggedIn",
    "codexAuth",
    "installCommand",
    "docsUrl",
    "connectionState",
]
PUBLIC_KEYS = [
    "id",
    "name",
    "healthBin",
    "packageManager",
    "installCommand",
    "builtIn",
    "authKind",
    "envVar",
    "docsUrl",
    "headlessAuth",
]
FAKE_KEY = "conformance-test-key-0001"


KIT_FILE = "kit-edit.txt"
KIT_TEXT = "written by the conformance kit's fake CLI\n"
#: Bound on waits for a run to reach a state (no timing assertion: it only keeps CI from hanging).
WAIT_S = 60


class RuntimeConformanceTests:
    plugin: ModuleType
    runtime_id: str
    #: Your fake CLI (a TranscriptFake subclass); ``None`` skips the run-through-the-host tests.
    fake_cli: type[TranscriptFake] | None = None
    answer_scenario: str = "plain"
    mcp_scenario: str = "mcp"
    max_turns_scenario: str | None = "maxturns"

    # ------------------------------------------------------------------ helpers

    @property
    def descriptor(self) -> RuntimeDescriptor:
        return self.plugin.clawboo_runtime_descriptor()

    @pytest.fixture
    def host(self, clawboo_host_factory):
        server = clawboo_host_factory(plugins=[(self.runtime_id, self.plugin)])
        with server.client() as client:
            yield client

    def row(self, client) -> dict:
        body = client.get("/api/runtimes").json()
        rows = [r for r in body["runtimes"] if r["id"] == self.runtime_id]
        assert len(rows) == 1, body
        return rows[0]

    def install_fake_cli(self, fake_executables) -> None:
        if self.descriptor.cli_binary:
            fake_executables.add(self.descriptor.cli_binary, "import sys\nsys.exit(0)\n")

    # ------------------------------------------------------------------ contract

    def test_descriptor_is_valid_and_named_after_the_entry_point(self):
        descriptor = self.descriptor
        assert isinstance(descriptor, RuntimeDescriptor)
        descriptor.validate()
        assert descriptor.id == self.runtime_id

    def test_only_known_hooks_are_implemented(self):
        marked = [
            name
            for name in dir(self.plugin)
            if name.startswith("clawboo_") and hasattr(getattr(self.plugin, name), "clawboo_impl")
        ]
        assert "clawboo_runtime_descriptor" in marked
        assert set(marked) <= set(HOOK_NAMES), set(marked) - set(HOOK_NAMES)

    def test_listed_with_every_field_in_order(self, host):
        body = host.get("/api/runtimes").json()
        row = self.row(host)
        assert list(row) == ROW_KEYS
        assert row["capabilities"] == self.descriptor.capabilities.to_json()
        assert set(row["health"]) <= {"ok", "message"}
        available = {d["id"]: d for d in body["available"]}
        if self.runtime_id == MOCK_RUNTIME_ID:  # fault injection is never advertised
            assert self.runtime_id not in available
        else:
            assert list(available[self.runtime_id]) == PUBLIC_KEYS

    def test_not_installed_until_the_cli_appears(self, host, fake_executables):
        if self.descriptor.built_in:
            assert self.row(host)["installed"] is True
            return
        row = self.row(host)
        assert row["installed"] is False and row["binPath"] is None
        assert row["connectionState"] == "not-installed"
        self.install_fake_cli(fake_executables)
        row = self.row(host)
        assert row["installed"] is True
        assert row["binPath"] == str(fake_executables.bin_dir / self.descriptor.cli_binary)
        assert row["connectionState"] != "not-installed"

    def test_connect_never_echoes_the_key(self, host, fake_executables, clawboo_data_dir):
        self.install_fake_cli(fake_executables)
        response = host.post(f"/api/runtimes/{self.runtime_id}/connect", json={"apiKey": FAKE_KEY})
        assert response.status_code == 200, response.text
        assert FAKE_KEY not in response.text
        assert response.json()["ok"] is True
        for path in clawboo_data_dir.rglob("*"):
            if path.is_file():
                assert FAKE_KEY.encode() not in path.read_bytes(), path

    def test_connect_without_a_key(self, host, fake_executables):
        self.install_fake_cli(fake_executables)
        response = host.post(f"/api/runtimes/{self.runtime_id}/connect", json={})
        kind = self.descriptor.auth_kind
        if kind == "api-key":
            assert response.status_code == 400
            assert response.json() == {"error": "apiKey is required"}
        else:
            assert response.status_code == 200
            if kind == "oauth":
                assert response.json()["loginCommand"]

    def test_disconnect_forgets_the_stored_key(self, host, fake_executables):
        self.install_fake_cli(fake_executables)
        host.post(f"/api/runtimes/{self.runtime_id}/connect", json={"apiKey": FAKE_KEY})
        response = host.post(f"/api/runtimes/{self.runtime_id}/disconnect")
        assert response.status_code == 200
        assert response.json()["ok"] is True
        assert self.row(host)["hasVaultCredential"] is False

    def test_unknown_ids_are_404_beside_this_plugin(self, host):
        for rid in ("openclaw", self.runtime_id.upper(), "no-such-runtime"):
            response = host.post(f"/api/runtimes/{rid}/connect", json={"apiKey": FAKE_KEY})
            assert response.status_code == 404
            assert response.json() == {"error": f"unknown runtime '{rid}'"}

    def test_public_descriptor_is_json(self):
        json.dumps(self.descriptor.public_json())
        json.dumps(self.descriptor.capabilities.to_json())

    # ------------------------------------------------------------------ run

    def _run_context(self, tmp_path, env: dict, abort=None):
        from ..plugin_api import AbortSignal, RunContext

        scratch = tmp_path / "scratch"
        scratch.mkdir(exist_ok=True)
        return RunContext(
            run_id="conformance-run",
            task_id="conformance-task",
            agent_id=self.runtime_id,
            prompt="# Task: conformance\n\nSay hello.",
            cwd=None,
            env=env,
            home_dir=None,
            scratch_dir=scratch,
            abort=abort or AbortSignal(),
        )

    async def _collect(self, ctx) -> list:
        events = self.plugin.clawboo_runtime_run(ctx)
        try:
            return [event async for event in events]
        finally:
            await events.aclose()

    def _assert_one_done_last(self, events) -> None:
        from ..plugin_api import Done

        dones = [e for e in events if isinstance(e, Done)]
        assert len(dones) == 1 and events[-1] is dones[0], events
        for event in events:
            json.dumps(event.to_json())

    @pytest.mark.anyio
    async def test_a_run_with_nothing_to_run_ends_with_one_done(self, tmp_path, clawboo_env):
        """No CLI on PATH and no provider key: the run must end cleanly, not hang or raise."""
        if not hasattr(self.plugin, "clawboo_runtime_run"):
            pytest.skip("no run hook")
        events = await self._collect(self._run_context(tmp_path, dict(clawboo_env)))
        self._assert_one_done_last(events)
        assert events[-1].reason in ("error", "success")

    @pytest.mark.anyio
    async def test_a_run_aborted_before_it_starts_ends_with_one_done(self, tmp_path, clawboo_env):
        from ..plugin_api import AbortSignal

        if not hasattr(self.plugin, "clawboo_runtime_run"):
            pytest.skip("no run hook")
        abort = AbortSignal()
        abort.set("conformance")
        events = await self._collect(self._run_context(tmp_path, dict(clawboo_env), abort))
        self._assert_one_done_last(events)
        assert events[-1].reason in ("aborted", "error")

    # ------------------------------------------------------------------ runs through a live host

    def prepare_run_env(self, env: dict, tmp_path: Path) -> dict:
        """The server environment for the run tests; add what makes your runtime ready
        (a login file under ``env["HOME"]``, a user config). Default: unchanged."""
        return env

    def connect_for_runs(self, client) -> None:
        """Make the runtime ready on the live host. Default: an ``api-key`` runtime gets a
        pasted key; others are expected ready from :meth:`prepare_run_env`."""
        if self.descriptor.auth_kind == "api-key":
            connect(client, self.runtime_id, FAKE_KEY)

    @pytest.fixture
    def live(self, clawboo_host_factory, clawboo_env, fake_executables, tmp_path):
        """``(server, client, fake)``: a live host with this plugin, the fake CLI installed
        (answering ``answer_scenario``) and the runtime connected."""
        if self.fake_cli is None:
            pytest.skip("set fake_cli to run tasks through the host")
        if not hasattr(self.plugin, "clawboo_runtime_run"):
            pytest.skip("no run hook")
        env = self.prepare_run_env(dict(clawboo_env), tmp_path)
        server = clawboo_host_factory(plugins=[(self.runtime_id, self.plugin)], env=env)
        fake = self.fake_cli(fake_executables)
        fake.install(self.answer_scenario)  # before connect: "ready" needs the binary
        with server.client() as client:
            self.connect_for_runs(client)
            yield server, client, fake

    def test_kit_a_run_that_edits_a_file_is_in_review_with_a_commit(self, live, git_repo):
        server, client, fake = live
        task = create_task(client, "Edit a file", "Write the kit file.")
        fake.install(self.answer_scenario, task_id=task["id"], write_files={KIT_FILE: KIT_TEXT})
        body = run_task(client, self.runtime_id, task["id"], repoPath=str(git_repo))
        assert (body["doneReason"], body["status"]) == ("success", "in_review"), body
        [call] = fake.calls()
        assert Path(call["cwd"]) != git_repo  # its own worktree, not the user's checkout
        branch = f"clawboo/task-{task['id']}"
        assert git(git_repo, "show", f"{branch}:{KIT_FILE}") == KIT_TEXT.strip()
        assert KIT_FILE not in git(git_repo, "ls-tree", "--name-only", "HEAD")
        assert task_detail(client, task["id"])["task"]["status"] == "in_review"

    def test_kit_the_fake_calls_add_comment_over_mcp_with_the_runs_token(self, live, git_repo):
        server, client, fake = live
        if not self.descriptor.capabilities.mcp:
            pytest.skip("the runtime does not take the MCP tasks server")
        task = create_task(client, "Comment", "Use add_comment.")
        fake.install(self.mcp_scenario, task_id=task["id"], real_mcp_task=task["id"])
        body = run_task(client, self.runtime_id, task["id"], repoPath=str(git_repo))
        assert body["doneReason"] == "success", body
        [call] = fake.calls()
        assert call["mcp_results"], "the fake found no MCP server in the config the plugin wrote"
        assert call["mcp_results"][0]["is_error"] is False, call["mcp_results"]
        comments = task_detail(client, task["id"])["comments"]
        mine = [c for c in comments if c["body"] == f"hello from the fake {fake.cli}"]
        assert mine and mine[0]["authorType"] == "agent", comments

    def test_kit_a_mid_run_abort_kills_a_sigterm_ignoring_grandchild(self, live, git_repo):
        server, client, fake = live
        task = create_task(client, "Hang", "Take your time.")
        fake.install(self.answer_scenario, task_id=task["id"], sleep_after=1, stubborn=True)
        out: dict = {}

        def target():
            with server.client() as c:
                out["body"] = run_task(c, self.runtime_id, task["id"], repoPath=str(git_repo))

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        grandchildren = wait_until(
            fake.grandchildren, WAIT_S, what="the fake CLI to start its grandchild"
        )
        executions = wait_until(
            lambda: task_detail(client, task["id"])["executions"], WAIT_S, what="the execution"
        )
        exec_id = executions[0]["id"]
        response = client.post(f"/api/executions/{exec_id}/abort")
        assert response.json() == {"ok": True, "execId": exec_id}, response.text
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the run did not end after the abort"
        assert (out["body"]["doneReason"], out["body"]["status"]) == ("aborted", "todo")
        assert task_detail(client, task["id"])["executions"][0]["status"] == "cancelled"
        assert still_running(grandchildren) == []
        assert still_running([c["pid"] for c in fake.calls()]) == []

    def test_kit_max_turns(self, live, git_repo):
        server, client, fake = live
        if self.max_turns_scenario is None:
            pytest.skip("no max-turns transcript")
        task = create_task(client, "Loop", "Use add_comment, then answer.")
        fake.install(self.max_turns_scenario, task_id=task["id"])
        body = run_task(client, self.runtime_id, task["id"], repoPath=str(git_repo))
        assert (body["doneReason"], body["status"]) == ("max_turns", "todo"), body
        assert body["summary"], body

    def test_kit_without_the_cli_the_run_is_refused_before_the_claim(self, live, git_repo):
        server, client, fake = live
        fake.fakes.remove(fake.cli)
        task = create_task(client, "Say hi", "hi")
        response = client.post(
            f"/api/runtimes/{self.runtime_id}/run",
            json={"taskId": task["id"], "repoPath": str(git_repo)},
        )
        binary = self.descriptor.cli_binary
        assert response.status_code == 422, response.text
        assert response.json() == {
            "ok": False,
            "reason": "not_installed",
            "error": f"{binary} not found on PATH or user-install dirs",
        }
        detail = task_detail(client, task["id"])  # the board is untouched
        assert detail["task"]["status"] == "todo" and detail["executions"] == []
        assert detail["workspace"] is None
        assert fake.calls() == []

    def test_kit_install_with_a_fake_package_manager(self, live, fake_executables):
        server, client, fake = live
        spec = self.descriptor.install
        if spec is None:
            pytest.skip("built in: nothing to install")
        fake.fakes.remove(fake.cli)
        manager = "npm" if spec.method == "npm" else "pipx"
        record = fake_executables.bin_dir / f"{manager}.kit-calls.jsonl"
        fake_executables.add(
            manager,
            f"""
            import json, os, sys
            with open({str(record)!r}, "a") as fh:
                fh.write(json.dumps(sys.argv[1:]) + "\\n")
            cli = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])),
                               {self.descriptor.cli_binary!r})
            with open(cli, "w") as fh:
                fh.write("#!/bin/sh\\nexit 0\\n")
            os.chmod(cli, 0o755)
            print("added 1 package")
            """,
        )
        response = client.post(f"/api/runtimes/{self.runtime_id}/install")
        assert response.status_code == 200, response.text
        frames = [
            json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
        ]
        assert frames[-1] == {"type": "complete", "success": True}, frames
        [argv] = [json.loads(line) for line in record.read_text().splitlines()]
        assert argv[0] == "install" and argv[-1] == spec.package, argv
        assert self.row(client)["installed"] is True
