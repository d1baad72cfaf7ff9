"""The Hermes run hook against a fake ``hermes`` replaying the real transcripts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import anyio
import pytest
import yaml
from clawboo_hermes.run import clawboo_runtime_run

from clawboo_host.plugin_api import (
    AbortSignal,
    CostEvent,
    Done,
    ErrorEvent,
    RunContext,
    StatusEvent,
    TextDelta,
)
from clawboo_host.testing.fakes import still_running

KEY = "sk-or-v1-test-key-0123456789abcdef"
TOKEN = "run-token-abcdefghijklmnopqrstuvwxyz"
MCP_URL = "http://127.0.0.1:18790/api/mcp/tasks"
PROMPT = "Reply with exactly PLAIN-OK and nothing else.\n\nA second line; 'quotes' and $VARS."

pytestmark = pytest.mark.anyio


@pytest.fixture
def workdirs(tmp_path):
    cwd = tmp_path / "worktree"
    cwd.mkdir()
    (cwd / "README.md").write_text("hi\n")
    home = tmp_path / "identity-home"
    home.mkdir(mode=0o700)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return cwd, home, scratch


def make_ctx(env, workdirs, **overrides) -> RunContext:
    cwd, home, scratch = workdirs
    values = dict(
        run_id="run-1",
        task_id="task-1",
        agent_id="agent-1",
        prompt=PROMPT,
        cwd=cwd,
        env=dict(env),
        home_dir=home,
        scratch_dir=scratch,
        abort=AbortSignal(),
    )
    values.update(overrides)
    return RunContext(**values)


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_runtime_run(ctx)]


def done_of(events) -> Done:
    assert isinstance(events[-1], Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    return events[-1]


@pytest.fixture
def env(clawboo_env):
    return dict(clawboo_env, OPENROUTER_API_KEY=KEY)


async def test_plain_run(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    cwd, home, _ = workdirs
    before = time.time()
    events = await collect(make_ctx(env, workdirs))

    done = done_of(events)
    assert (done.reason, done.summary, done.session_id) == (
        "success",
        "PLAIN-OK",
        "20261128_223818_f31aae",
    )
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["PLAIN-OK\n"]
    assert not [e for e in events if isinstance(e, (CostEvent, ErrorEvent))]

    [call] = fake_hermes.calls()
    assert call["argv"] == [
        "chat",
        "--query=" + PROMPT,
        "-Q",
        "--yolo",
        "--provider",
        "openrouter",
        "-m",
        "openai/gpt-4o-mini",
    ]
    assert call["cwd"] == str(cwd)
    assert call["env"]["HERMES_HOME"] == str(home)
    assert call["env"]["PYTHONUNBUFFERED"] == "1"
    assert call["env"]["OPENROUTER_API_KEY"] == KEY
    assert call["env"]["HOME"] == env["HOME"]  # HOME is left alone; HERMES_HOME moves
    assert call["config"]["clawboo_tasks"] is None  # no MCP: no MCP server in the config
    # The update-check cache is fresh, so Hermes does not ask PyPI.
    cache = call["update_check"]
    assert set(cache) == {"ts", "behind", "rev", "ver"}
    assert before - 1 <= cache["ts"] <= time.time()
    assert cache["rev"] is None
    # Nothing in the worktree or the user's HOME, nothing in the server's HERMES_HOME.
    assert call["cwd_listing"] == ["README.md"]
    assert not Path(env["HERMES_HOME"]).exists()
    assert not (Path(env["HOME"]) / ".hermes").exists()


def user_hermes_home(env) -> Path:
    home = Path(env["HERMES_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


async def test_mcp_run_starts_from_the_users_config_and_takes_the_token_back(
    fake_hermes, env, workdirs
):
    fake_hermes.install("mcp")
    _, home, _ = workdirs
    user_config = (
        "# my settings\n"
        "agent:\n"
        "  max_turns: 50\n"
        "mcp_servers:\n"
        "  filesystem:\n"
        "    command: npx\n"
        '    args: ["-y", "server-filesystem"]\n'
        "display:\n"
        "  skin: mono  # trailing comment\n"
    )
    source = user_hermes_home(env) / "config.yaml"
    source.write_text(user_config)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    events = await collect(make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN))

    done = done_of(events)
    assert (done.reason, done.summary, done.session_id) == (
        "success",
        "DONE-123",
        "20261128_223831_b89e0d",
    )
    [call] = fake_hermes.calls()
    config = call["config"]
    assert config["mode"] == "0o600"
    assert config["clawboo_tasks"] == {"url": MCP_URL, "Authorization": f"Bearer {TOKEN}"}
    parsed = yaml.safe_load(config["text"])
    # The user's settings were kept; their MCP servers replaced by ours.
    assert parsed["agent"] == {"max_turns": 50}
    assert parsed["display"] == {"skin": "mono"}
    assert list(parsed["mcp_servers"]) == ["clawboo-tasks"]
    # After the run the token is gone from the home; the user's file was never written.
    after = yaml.safe_load((home / "config.yaml").read_text())
    assert "mcp_servers" not in after and after["agent"] == {"max_turns": 50}
    assert TOKEN not in (home / "config.yaml").read_text()
    assert source.read_text() == user_config
    assert source.stat().st_mtime == 1_600_000_000
    assert TOKEN not in repr(events)


async def test_the_config_is_made_afresh_at_every_run(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    _, home, _ = workdirs
    # Whatever a previous run (or a crash) left in the identity home does not survive.
    (home / "config.yaml").write_text(
        "mcp_servers:\n  clawboo-tasks:\n    headers:\n      Authorization: Bearer old-token\n"
    )
    await collect(make_ctx(env, workdirs))
    user_hermes_home(env).joinpath("config.yaml").write_text("agent:\n  max_turns: 7\n")
    await collect(make_ctx(env, workdirs))
    first, second = fake_hermes.calls()
    assert "old-token" not in first["config"]["text"]
    assert yaml.safe_load(second["config"]["text"]) == {"agent": {"max_turns": 7}}


async def test_the_users_dotenv_is_carried_and_its_values_redacted(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    _, home, _ = workdirs
    # The fake answers PLAIN-OK; make that the value of a key in the user's .env.
    user_hermes_home(env).joinpath(".env").write_text("MY_GATEWAY_KEY=PLAIN-OK\n")
    events = await collect(make_ctx(env, workdirs))
    assert (home / ".env").read_text() == "MY_GATEWAY_KEY=PLAIN-OK\n"
    assert oct((home / ".env").stat().st_mode & 0o777) == "0o600"
    assert "PLAIN-OK" not in repr(events)
    assert done_of(events).summary == "[REDACTED]"


async def test_an_unparsable_user_config_fails_the_run_without_spawning(
    fake_hermes, env, workdirs
):
    fake_hermes.install("plain")
    path = user_hermes_home(env) / "config.yaml"
    path.write_text("model: [unclosed\n")
    events = await collect(make_ctx(env, workdirs))
    done = done_of(events)
    assert done.reason == "error"
    assert done.summary.startswith(f"your Hermes config {path} is not valid YAML")
    assert fake_hermes.calls() == []


async def test_rejected_key(fake_hermes, env, workdirs):
    fake_hermes.install("auth401")
    events = await collect(make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN))
    done = done_of(events)
    assert (done.reason, done.summary) == ("error", "HTTP 401: mock: invalid x-api-key")
    assert done.session_id == "20261128_223844_52011b"
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors and errors[-1].fatal and errors[-1].message == done.summary
    _, home, _ = workdirs
    assert TOKEN not in (home / "config.yaml").read_text()


async def test_max_turns(fake_hermes, env, workdirs):
    fake_hermes.install("maxturns")
    events = await collect(make_ctx(env, workdirs))
    done = done_of(events)
    assert done.reason == "max_turns"
    assert done.summary.startswith("⚠️  Reached maximum iterations (1). Requesting summary...")
    assert "maximum tool-iteration limit was reached" in done.summary
    assert done.session_id == "20261128_223859_fd375f"
    # Every stdout line was streamed as it came, blank lines included.
    stdout = fake_hermes.transcript("maxturns").stdout
    assert [e.text for e in events if isinstance(e, TextDelta)] == [l + "\n" for l in stdout]


async def test_nonzero_exit_without_output_reports_stderr(fake_hermes, env, workdirs):
    fake_hermes.install(
        None, stdout=[], stderr=["", "Traceback...", "ValueError: boom"], exit_code=2
    )
    done = done_of(await collect(make_ctx(env, workdirs)))
    assert done.reason == "error"
    assert done.summary == "Traceback...\nValueError: boom"


async def test_nonzero_exit_with_nothing_at_all(fake_hermes, env, workdirs):
    fake_hermes.install(None, stdout=[], stderr=[], exit_code=3)
    done = done_of(await collect(make_ctx(env, workdirs)))
    assert (done.reason, done.summary) == ("error", "hermes exited with code 3")


async def test_long_error_is_cut_to_its_tail(fake_hermes, env, workdirs):
    fake_hermes.install(None, stdout=[f"line {i} " + "x" * 50 for i in range(100)], exit_code=1)
    done = done_of(await collect(make_ctx(env, workdirs)))
    assert len(done.summary) <= 2000 and done.summary.endswith("line 99 " + "x" * 50)


async def test_startup_notices_stay_out_of_the_summary(fake_hermes, env, workdirs):
    notice = (
        "  ⚠ tirith security scanner enabled but not available — command scanning "
        "will use pattern matching only"
    )
    fake_hermes.install(
        None,
        stdout=[notice, "API call failed after 3 retries: Connection error."],
        stderr=["", "session_id: 20261129_004645_63f274"],
        exit_code=1,
    )
    done = done_of(await collect(make_ctx(env, workdirs)))
    assert done.summary == "API call failed after 3 retries: Connection error."
    assert done.session_id == "20261129_004645_63f274"


async def test_binary_missing(fake_hermes, env, workdirs):
    events = await collect(make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN))
    assert events == [Done("error", summary="hermes not found on PATH or user-install dirs")]
    assert fake_hermes.calls() == []
    _, home, _ = workdirs
    assert list(home.iterdir()) == []  # nothing written either


async def test_abort_mid_run_kills_the_tree(fake_hermes, env, workdirs):
    fake_hermes.install("plain", sleep_after=1)
    ctx = make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN)
    events = []
    with anyio.fail_after(60):
        async for event in clawboo_runtime_run(ctx):
            events.append(event)
            if isinstance(event, TextDelta):
                ctx.abort.set("test")
    done = done_of(events)
    assert (done.reason, done.summary) == ("aborted", "PLAIN-OK")
    [call] = fake_hermes.calls()
    assert still_running([call["pid"], *fake_hermes.grandchildren()]) == []
    _, home, _ = workdirs
    assert TOKEN not in (home / "config.yaml").read_text()


async def test_closing_the_generator_cleans_up(fake_hermes, env, workdirs):
    fake_hermes.install("plain", sleep_after=1)
    ctx = make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN)
    gen = clawboo_runtime_run(ctx)
    with anyio.fail_after(60):
        async for event in gen:
            if isinstance(event, TextDelta):
                break
        await gen.aclose()
    [call] = fake_hermes.calls()
    assert still_running([call["pid"], *fake_hermes.grandchildren()]) == []
    assert TOKEN not in (workdirs[1] / "config.yaml").read_text()


@pytest.mark.parametrize(
    "keys,expected",
    [
        ({"ANTHROPIC_API_KEY": "sk-ant-x"}, ["--provider", "anthropic", "-m", "claude-haiku-4-5"]),
        ({"OPENAI_API_KEY": "sk-x"}, ["--provider", "openai-api", "-m", "gpt-4o-mini"]),
        (
            {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-ant-x"},
            ["--provider", "anthropic", "-m", "claude-haiku-4-5"],
        ),
        (
            {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-ant-x", "OPENROUTER_API_KEY": KEY},
            ["--provider", "openrouter", "-m", "openai/gpt-4o-mini"],
        ),
        ({"OPENROUTER_API_KEY": "  "}, []),
        ({}, []),
    ],
)
async def test_provider_follows_the_granted_keys(
    fake_hermes, clawboo_env, workdirs, keys, expected
):
    fake_hermes.install("plain")
    await collect(make_ctx(dict(clawboo_env, **keys), workdirs))
    [call] = fake_hermes.calls()
    assert call["argv"][4:] == expected


async def test_an_explicit_model_wins(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    await collect(make_ctx(env, workdirs, model="anthropic/claude-sonnet-4"))
    [call] = fake_hermes.calls()
    assert call["argv"][4:] == ["--provider", "openrouter", "-m", "anthropic/claude-sonnet-4"]


@pytest.mark.parametrize(
    "user_config",
    [
        'model:\n  default: x/y\n  provider: "nous"  # mine\n',
        "model:\n  provider: custom\n  base_url: http://127.0.0.1:9/v1\n",
        "model: anthropic/claude-sonnet-4\n",
    ],
)
async def test_a_configured_provider_or_model_is_left_to_hermes(
    fake_hermes, env, workdirs, user_config
):
    fake_hermes.install("plain")
    user_hermes_home(env).joinpath("config.yaml").write_text(user_config)
    await collect(make_ctx(env, workdirs))
    await collect(make_ctx(env, workdirs, model="my/model"))
    first, second = fake_hermes.calls()
    assert first["argv"][4:] == []
    assert second["argv"][4:] == ["-m", "my/model"]  # the run request's model still wins


async def test_chatgpt_login_in_the_home(fake_hermes, clawboo_env, workdirs):
    fake_hermes.install("plain")
    auth = {"providers": {"openai-codex": {"tokens": {"access_token": "a", "refresh_token": "r"}}}}
    (workdirs[1] / "auth.json").write_text(json.dumps(auth))
    await collect(make_ctx(clawboo_env, workdirs))
    [call] = fake_hermes.calls()
    assert call["argv"][4:] == ["--provider", "openai-codex", "-m", "gpt-5.5"]


async def test_resume_a_known_session(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    first = done_of(await collect(make_ctx(env, workdirs)))
    again = done_of(await collect(make_ctx(env, workdirs, resume_session_id=first.session_id)))
    assert again.reason == "success" and again.session_id == first.session_id
    calls = fake_hermes.calls()
    assert calls[1]["argv"][-2:] == ["--resume", first.session_id]


async def test_resume_of_a_lost_session_starts_a_new_one(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    events = await collect(make_ctx(env, workdirs, resume_session_id="20990101_000000_abcdef"))
    done = done_of(events)
    assert (done.reason, done.summary, done.session_id) == (
        "success",
        "PLAIN-OK",
        "20261128_223818_f31aae",
    )
    first, second = fake_hermes.calls()
    assert first["argv"][-2:] == ["--resume", "20990101_000000_abcdef"]
    assert "--resume" not in second["argv"]
    assert any(isinstance(e, StatusEvent) for e in events)


async def test_without_an_identity_home(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    _, _, scratch = workdirs
    done = done_of(await collect(make_ctx(env, workdirs, home_dir=None, resume_session_id="s1")))
    assert done.reason == "success"
    [call] = fake_hermes.calls()
    assert call["env"]["HERMES_HOME"] == str(scratch / "hermes-home")
    assert "--resume" not in call["argv"]  # an ephemeral home has no sessions to resume
    assert oct((scratch / "hermes-home").stat().st_mode & 0o777) == "0o700"


async def test_without_a_worktree_it_runs_in_scratch(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    await collect(make_ctx(env, workdirs, cwd=None))
    [call] = fake_hermes.calls()
    assert call["cwd"] == str(workdirs[2])


async def test_update_check_uses_the_installed_version(fake_hermes, env, workdirs, tmp_path):
    # A pipx-style venv: bin/hermes next to lib/python3.X/site-packages/hermes_agent-*.dist-info.
    venv = tmp_path / "pipx-venv"
    (venv / "lib" / "python3.12" / "site-packages" / "hermes_agent-0.19.0.dist-info").mkdir(
        parents=True
    )
    (venv / "bin").mkdir()
    fake_hermes.install("plain")
    script = fake_hermes.fakes.path("hermes")
    os.replace(script, venv / "bin" / "hermes")
    script.symlink_to(venv / "bin" / "hermes")
    await collect(make_ctx(env, workdirs))
    [call] = fake_hermes.calls()
    assert call["update_check"]["ver"] == "0.19.0"


async def test_update_check_keeps_what_hermes_wrote(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    home = workdirs[1]
    (home / ".update_check").write_text(
        json.dumps({"ts": 1, "behind": 3, "rev": None, "ver": "0.18.2"})
    )
    await collect(make_ctx(dict(env, HERMES_REVISION="abc123"), workdirs))
    [call] = fake_hermes.calls()
    cache = call["update_check"]
    assert cache["ver"] == "0.18.2" and cache["rev"] == "abc123"
    assert cache["behind"] is None  # the revision changed: the old count no longer holds
    assert cache["ts"] > 1


async def test_a_binary_that_cannot_start(fake_hermes, env, workdirs):
    fake_hermes.fakes.add("hermes", "echo hi\n", shebang="#!/nonexistent/interpreter")
    events = await collect(make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN))
    done = done_of(events)
    assert done.reason == "error" and done.summary.startswith("could not start hermes")
    assert TOKEN not in (workdirs[1] / "config.yaml").read_text()


async def test_a_flow_style_mcp_servers_is_replaced_too(fake_hermes, env, workdirs):
    fake_hermes.install("plain")
    user_hermes_home(env).joinpath("config.yaml").write_text("mcp_servers: {fs: {command: npx}}\n")
    events = await collect(make_ctx(env, workdirs, mcp_url=MCP_URL, mcp_token=TOKEN))
    assert done_of(events).reason == "success"
    [call] = fake_hermes.calls()
    assert list(yaml.safe_load(call["config"]["text"])["mcp_servers"]) == ["clawboo-tasks"]


async def test_an_abort_before_start(fake_hermes, env, workdirs):
    fake_hermes.install("plain", sleep_after=1)
    ctx = make_ctx(env, workdirs)
    ctx.abort.set("test")
    with anyio.fail_after(60):
        done = done_of(await collect(ctx))
    assert done.reason == "aborted"
    assert (
        still_running([c["pid"] for c in fake_hermes.calls()] + fake_hermes.grandchildren()) == []
    )


async def test_the_users_chatgpt_login_is_copied_into_the_identity_home(
    fake_hermes, clawboo_env, workdirs
):
    """A login that makes Hermes "ready" must also make its runs work; the user's file is
    only read."""
    fake_hermes.install("plain")
    user_home = Path(clawboo_env["HERMES_HOME"])
    user_home.mkdir(parents=True, exist_ok=True)
    auth = {"providers": {"openai-codex": {"tokens": {"access_token": "a", "refresh_token": "r"}}}}
    (user_home / "auth.json").write_text(json.dumps(auth))
    before = (user_home / "auth.json").read_bytes()
    await collect(make_ctx(clawboo_env, workdirs))
    [call] = fake_hermes.calls()
    assert call["argv"][4:] == ["--provider", "openai-codex", "-m", "gpt-5.5"]
    seeded = workdirs[1] / "auth.json"
    assert json.loads(seeded.read_text()) == auth
    assert seeded.stat().st_mode & 0o777 == 0o600
    assert (user_home / "auth.json").read_bytes() == before


@pytest.mark.parametrize("setsid", [False, True], ids=["same-group", "setsid"])
async def test_a_grandchild_holding_the_pipes_does_not_hang_the_run(
    fake_hermes, env, workdirs, tmp_path, setsid
):
    # Hermes answered and exited, but a child it started (an MCP stdio server, a
    # background command) inherited its stdout/stderr and keeps them open.
    pid_file = tmp_path / "grandchild.pid"
    fake_hermes.fakes.add(
        "hermes",
        f"""
        import subprocess, sys
        print("PLAIN-OK", flush=True)
        sys.stderr.write("session_id: 20261128_223818_f31aae\\n")
        sys.stderr.flush()
        child = subprocess.Popen(["sleep", "300"], start_new_session={setsid!r})
        open({str(pid_file)!r}, "w").write(str(child.pid))
        """,
    )
    try:
        with anyio.fail_after(20):
            events = await collect(make_ctx(env, workdirs))
    finally:
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert done_of(events) == Done(
        "success", summary="PLAIN-OK", session_id="20261128_223818_f31aae"
    )


@pytest.mark.parametrize(
    "prompt",
    ["- [ ] a markdown checklist first", "--yolo", "-Q", "-h", "--profile=other do it", "=x"],
)
async def test_a_prompt_that_looks_like_an_option_reaches_hermes_whole(
    fake_hermes, env, workdirs, tmp_path, prompt
):
    # Hermes parses its command line with argparse: an option-looking value after a
    # separate ``-q`` is refused ("expected one argument") or read as another option.
    seen = tmp_path / "query.json"
    fake_hermes.fakes.add(
        "hermes",
        f"""
        import argparse, json, sys
        parser = argparse.ArgumentParser(prog="hermes")
        sub = parser.add_subparsers(dest="command")
        chat = sub.add_parser("chat")
        chat.add_argument("-q", "--query")
        chat.add_argument("-Q", "--quiet", action="store_true")
        chat.add_argument("--yolo", action="store_true")
        chat.add_argument("--provider")
        chat.add_argument("-m", "--model")
        chat.add_argument("-r", "--resume")
        args = parser.parse_args()
        json.dump({{"query": args.query, "quiet": args.quiet, "yolo": args.yolo}},
                  open({str(seen)!r}, "w"))
        print("PLAIN-OK")
        sys.stderr.write("session_id: 20261128_223818_f31aae\\\\n")
        """,
    )
    events = await collect(make_ctx(env, workdirs, prompt=prompt))
    done = done_of(events)
    assert (done.reason, done.summary) == ("success", "PLAIN-OK")
    assert json.loads(seen.read_text()) == {"query": prompt, "quiet": True, "yolo": True}
