"""A fake ``claude`` that replays the real Claude Code transcripts.

The transcripts (``claude-<scenario>.*`` in the host's shared CLI transcripts, read by
:class:`~clawboo_host.testing.fakes.TranscriptFake`) are printed with the recorded exit
code; each call is recorded (argv, cwd, pid, env presence and selected values, worktree
listing). On top of that this fake:

- records the ``--mcp-config`` file's path, mode and parsed contents;
- behaves like the real CLI where it matters: writes ``.claude.json`` and
  ``projects/<cwd slug>/<session>.jsonl`` under ``$CLAUDE_CONFIG_DIR`` (else ``$HOME``),
  fails ``--resume`` of a session it has no transcript for, exits 1 as root without
  ``IS_SANDBOX=1``;
- substitutes the placeholders (``<CWD>``, ``<HOME>``, ``<CWD_SLUG>``, and ``T-42`` with
  ``task_id``), and can really call the MCP ``add_comment`` tool with the config it was given
  (``real_mcp_task``);
- ``sleep_after=N`` starts a grandchild and sleeps after line N (abort tests); ``linger``
  sleeps after its result.
"""

from __future__ import annotations

from clawboo_host.testing.fakes import TranscriptFake


class FakeClaude(TranscriptFake):
    cli = "claude"
    recorded_env = (
        "HOME",
        "CLAUDE_CONFIG_DIR",
        "IS_SANDBOX",
        "CLAUDE_CODE_MAX_RETRIES",
        "DISABLE_AUTOUPDATER",
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "CLAWBOO_TEST_MARKER",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_OAUTH_TOKEN",
        "CLAUDE_CODE_USE_VERTEX",
        "DISABLE_TELEMETRY",
    )
    script = r"""
        home = os.environ.get("HOME", "")
        config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
        global_config = (os.path.join(os.environ["CLAUDE_CONFIG_DIR"], ".claude.json")
                         if os.environ.get("CLAUDE_CONFIG_DIR") else os.path.join(home, ".claude.json"))
        slug = re.sub(r"[^A-Za-z0-9]", "-", cwd)

        mcp_path = opt("--mcp-config")
        mcp = None
        if mcp_path:
            st = os.stat(mcp_path)
            with open(mcp_path, encoding="utf-8") as fh:
                mcp = {"path": os.path.abspath(mcp_path), "mode": oct(st.st_mode & 0o777),
                       "config": json.load(fh)}
        record["mcp"] = mcp

        if hasattr(os, "geteuid") and os.geteuid() == 0 and "--dangerously-skip-permissions" in argv \
                and os.environ.get("IS_SANDBOX") != "1":
            fail("--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n")

        resume = opt("--resume")
        if resume:
            projects = os.path.join(config_dir, "projects")
            found = os.path.isdir(projects) and any(
                os.path.exists(os.path.join(projects, d, resume + ".jsonl")) for d in os.listdir(projects))
            if not found:
                fail(f"No conversation found with session ID: {resume}\n")

        session = first_value(out, "session_id")
        if resume and session:
            out = [line.replace(session, resume) for line in out]
            session = resume
        subst.update({"<CWD>": cwd, "<HOME>": home, "<CWD_SLUG>": slug})

        # What the real CLI leaves behind in its home.
        os.makedirs(os.path.dirname(global_config) or ".", exist_ok=True)
        with open(global_config, "w", encoding="utf-8") as fh:
            json.dump({"numStartups": 1}, fh)
        if session:
            os.makedirs(os.path.join(config_dir, "projects", slug), exist_ok=True)
            with open(os.path.join(config_dir, "projects", slug, session + ".jsonl"), "a") as fh:
                fh.write(json.dumps({"sessionId": session}) + "\n")

        def mcp_endpoint():
            if not mcp:
                return None
            server = mcp["config"]["mcpServers"]["clawboo-tasks"]
            return server["url"], server["headers"]["Authorization"].split(" ", 1)[1]
    """
