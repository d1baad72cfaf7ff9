"""A fake ``hermes`` that replays the real Hermes transcripts.

The transcripts (``hermes-<scenario>.*`` in the host's shared CLI transcripts, read by
:class:`~clawboo_host.testing.fakes.TranscriptFake`) are printed verbatim (blank lines
included) with the recorded exit code; each call is recorded (argv, cwd, pid, env presence
and selected values such as ``HOME`` and ``HERMES_HOME``, worktree listing). On top of that
this fake:

- records a copy of ``$HERMES_HOME/config.yaml`` (text, mode, and the ``clawboo-tasks``
  url/Authorization it finds there) and ``.update_check``;
- behaves like the real CLI where it matters: ``--resume <id>`` of a session it never
  wrote fails with ``Session not found: <id>`` (exit 1), otherwise it keeps that id; it
  leaves ``sessions/<id>`` and ``state.db`` in ``$HERMES_HOME``;
- can really call the MCP ``add_comment`` tool with the url and token from config.yaml
  (``real_mcp_task``);
- ``sleep_after=N`` starts a grandchild and sleeps after stdout line N (abort tests).
"""

from __future__ import annotations

from clawboo_host.testing.fakes import TranscriptFake


class FakeHermes(TranscriptFake):
    cli = "hermes"
    recorded_env = (
        "HOME",
        "HERMES_HOME",
        "PYTHONUNBUFFERED",
        "OPENROUTER_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "CLAWBOO_TEST_MARKER",
    )
    script = r"""
        home = os.environ.get("HERMES_HOME") or os.path.join(os.environ.get("HOME", ""), ".hermes")
        config_path = os.path.join(home, "config.yaml")
        config = None
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as fh:
                text = fh.read()
            import yaml  # hermes reads its config with a YAML parser too
            entry = ((yaml.safe_load(text) or {}).get("mcp_servers") or {}).get("clawboo-tasks")
            server = {}
            if isinstance(entry, dict):
                server = {"url": entry.get("url"),
                          "Authorization": (entry.get("headers") or {}).get("Authorization")}
            config = {"text": text, "mode": oct(os.stat(config_path).st_mode & 0o777),
                      "clawboo_tasks": server or None}
        update_check = None
        if os.path.exists(os.path.join(home, ".update_check")):
            with open(os.path.join(home, ".update_check"), encoding="utf-8") as fh:
                update_check = json.load(fh)
        record.update({"config": config, "update_check": update_check})

        sessions = os.path.join(home, "sessions")
        resume = opt("--resume")
        if resume and not os.path.exists(os.path.join(sessions, resume)):
            fail(f"Session not found: {resume}\n"
                 "Use a session ID from a previous CLI run (hermes sessions list).")

        if resume:
            err = [re.sub(r"^session_id: .*$", "session_id: " + resume, line) for line in err]
        session = next((line.split(":", 1)[1].strip() for line in err
                        if line.startswith("session_id:")), None)

        # What the real CLI leaves behind in its home.
        os.makedirs(sessions, exist_ok=True)
        open(os.path.join(home, "state.db"), "a").close()
        if session:
            open(os.path.join(sessions, session), "a").close()

        def mcp_endpoint():
            if not (config and config["clawboo_tasks"]):
                return None
            server = config["clawboo_tasks"]
            return server["url"], server["Authorization"].split(" ", 1)[1]
    """
