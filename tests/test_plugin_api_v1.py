"""The compatibility promise: a plugin written against plugin API version 1 keeps working.

``tests/plugin_v1`` is such a plugin, kept verbatim (the guide's minimal plugin of that
release: no ``CLAWBOO_PLUGIN_API``, the bare CLI name spawned, ``proc.stdout_lines()``). It is
installed with pip beside the host, and a real ``clawboo-host serve`` process lists it,
connects its key and runs a task through it to review, with a commit on the task branch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clawboo_host.plugin_api.version import unsupported_plugin_api
from clawboo_host.testing.fakes import FakeExecutables
from clawboo_host.testing.helpers import create_task, git, make_git_repo, task_detail
from clawboo_host.testing.server import server_process

V1_PLUGIN = Path(__file__).parent / "plugin_v1"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("v1-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(V1_PLUGIN),
        ],
        check=True,
        timeout=300,
    )
    return target


def test_a_v1_plugin_runs_a_task_end_to_end(site, tmp_path):
    fakes = FakeExecutables(tmp_path / "bin")
    # The fake acme edits the worktree and prints its answer last.
    fakes.add(
        "acme",
        """
        import pathlib, sys
        pathlib.Path("HELLO.md").write_text("hello from acme\\n")
        print("working on: " + sys.argv[2].splitlines()[0][:40])
        print("wrote HELLO.md")
        """,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWBOO_")}
    env.update(
        PYTHONPATH=str(site),
        HOME=str(tmp_path),
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        "/usr/bin:/bin",
    )
    repo = make_git_repo(tmp_path / "repo")
    data = tmp_path / "data"
    with server_process(["--port", "0", "--data-dir", str(data)], env, data) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            rows = {r["id"]: r for r in client.get("/api/runtimes").json()["runtimes"]}
            assert rows["acme-agent"]["health"] == {"ok": True}
            connected = client.post(
                "/api/runtimes/acme-agent/connect", json={"apiKey": "acme-key-123456"}
            ).json()
            assert connected == {"ok": True, "connectionState": "ready"}
            task = create_task(client, "Say hello", "Write HELLO.md")
            response = client.post(
                "/api/runtimes/acme-agent/run",
                json={"taskId": task["id"], "repoPath": str(repo)},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            detail = task_detail(client, task["id"])
    assert (body["doneReason"], body["status"]) == ("success", "in_review"), body
    assert body["summary"] == "wrote HELLO.md"
    assert body["usage"] == {"inputTokens": 1200, "outputTokens": 300}
    branch = detail["workspace"]["branch"]
    assert "HELLO.md" in git(repo, "show", "--name-only", "--format=", branch)


def test_a_plugin_declaring_version_1_is_loaded():
    class Declared:
        CLAWBOO_PLUGIN_API = 1

    assert unsupported_plugin_api(Declared) is None
