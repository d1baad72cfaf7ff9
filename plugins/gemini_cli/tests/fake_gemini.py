"""A fake ``gemini`` that replays the real Gemini CLI transcripts (``gemini-<scenario>.*``).

Each call is recorded (argv, cwd, pid, env presence and selected values, worktree listing)
plus a copy of ``$GEMINI_CLI_HOME/.gemini/settings.json`` (path, mode, parsed). Like the
real CLI (0.61) it:

- refuses to start without an auth type (``Invalid auth method selected.``, exit 41) and,
  with ``gemini-api-key``, without ``GEMINI_API_KEY`` (exit 41);
- loads MCP servers only in a trusted folder (``GEMINI_CLI_TRUST_WORKSPACE=true``): with
  ``real_mcp_task`` it then really calls ``add_comment`` on the ``clawboo-tasks`` server
  (``httpUrl`` + its ``Authorization`` header);
- keeps its state under ``$GEMINI_CLI_HOME/.gemini`` (``projects.json``).
"""

from __future__ import annotations

from clawboo_host.testing.fakes import TranscriptFake


class FakeGemini(TranscriptFake):
    cli = "gemini"
    recorded_env = (
        "HOME",
        "GEMINI_CLI_HOME",
        "GEMINI_CLI_TRUST_WORKSPACE",
        "GEMINI_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "TMPDIR",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GITHUB_TOKEN",
        "CLAWBOO_TEST_MARKER",
    )
    script = r"""
        base = os.environ.get("GEMINI_CLI_HOME") or os.environ.get("HOME", "")
        gemini_dir = os.path.join(base, ".gemini")
        settings_path = os.path.join(gemini_dir, "settings.json")
        settings = None
        if os.path.exists(settings_path):
            with open(settings_path, encoding="utf-8") as fh:
                settings = {"path": settings_path, "parsed": json.load(fh),
                            "mode": oct(os.stat(settings_path).st_mode & 0o777)}
        record["settings"] = settings
        parsed = (settings or {}).get("parsed") or {}
        auth = ((parsed.get("security") or {}).get("auth") or {}).get("selectedType")
        if not auth:
            fail("Invalid auth method selected.\n", 41)
        if auth == "gemini-api-key" and not os.environ.get("GEMINI_API_KEY"):
            fail("When using Gemini API, you must specify the GEMINI_API_KEY environment variable.\n"
                 "Update your environment and try again (no reload needed if using .env)!\n", 41)
        os.makedirs(gemini_dir, exist_ok=True)
        with open(os.path.join(gemini_dir, "projects.json"), "w") as fh:
            json.dump({"projects": {cwd: os.path.basename(cwd)}}, fh)
        subst.update({"<CWD>": cwd, "<TMPDIR>": os.environ.get("TMPDIR", "/tmp")})

        def mcp_endpoint():
            if os.environ.get("GEMINI_CLI_TRUST_WORKSPACE") != "true":
                return None  # untrusted folder: no MCP servers
            server = (parsed.get("mcpServers") or {}).get("clawboo-tasks")
            if not server:
                return None
            return server["httpUrl"], server["headers"]["Authorization"].split(" ", 1)[1]
    """
