"""A fake ``codex`` that replays the real codex-cli transcripts.

The transcripts (``codex-<scenario>.*`` in the host's shared CLI transcripts, read by
:class:`~clawboo_host.testing.fakes.TranscriptFake`) are printed with the recorded exit
code, codex's PATH-alias warning (the first stderr line) before stdout; each call is recorded
(argv, cwd, pid, env presence and selected values, worktree listing). On top of that this
fake:

- records whether stdin is ``/dev/null``, and a copy of ``$CODEX_HOME/config.toml`` (text,
  mode, parsed) and of ``$CODEX_HOME/auth.json`` (mode, parsed);
- behaves like the real CLI where it matters: ``exec resume`` of a session it has no
  rollout for fails like codex 0.171 (``no rollout found for thread id``), and each run
  leaves ``$CODEX_HOME/sessions/<thread id>.jsonl`` behind so a later resume finds it;
- substitutes the placeholders (``<CODEX_HOME>``, ``<CWD>``, ``<TMP>``,
  ``<PROVIDER_PORT>``) and ``T-42`` (with ``task_id``), and can really call the MCP
  ``add_comment`` tool through the ``config.toml`` entry and the bearer-token env var it was
  given (``real_mcp_task``);
- ``sleep_after=N`` starts a grandchild and sleeps after line N (abort and reconnect tests);
  ``linger`` sleeps after the last line.
"""

from __future__ import annotations

from clawboo_host.testing.fakes import TranscriptFake


class FakeCodex(TranscriptFake):
    cli = "codex"
    recorded_env = (
        "HOME",
        "CODEX_HOME",
        "CLAWBOO_MCP_TOKEN",
        "OPENAI_API_KEY",
        "CODEX_API_KEY",
        "GITHUB_TOKEN",
        "GATEWAY_KEY",
        "CLAWBOO_TEST_MARKER",
    )
    stderr_first = 1  # codex prints its PATH-alias warning first
    script = r"""
        import stat, tomllib
        codex_home = os.environ.get("CODEX_HOME") or os.path.join(os.environ.get("HOME", ""), ".codex")

        def stdin_is_devnull():
            try:
                st, null = os.fstat(0), os.stat(os.devnull)
            except OSError:
                return False
            return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev

        def copy_file(name, parse):
            path = os.path.join(codex_home, name)
            if not os.path.exists(path):
                return None
            with open(path, "rb") as fh:
                raw = fh.read()
            copied = {"path": path, "mode": oct(os.stat(path).st_mode & 0o777),
                      "text": raw.decode("utf-8", "replace")}
            try:
                copied["parsed"] = parse(raw)
            except Exception as exc:
                copied["parse_error"] = str(exc)
            return copied

        record.update({
            "stdin_devnull": stdin_is_devnull(),
            "config": copy_file("config.toml", lambda raw: tomllib.loads(raw.decode("utf-8"))),
            "auth": copy_file("auth.json", lambda raw: json.loads(raw)),
        })

        sessions = os.path.join(codex_home, "sessions")
        resume = None
        if len(argv) > 1 and argv[0] == "exec" and "resume" in argv:
            rest = argv[argv.index("--") + 1:]
            resume = rest[0]
            if not os.path.exists(os.path.join(sessions, resume + ".jsonl")):
                fail(f"Error: thread/resume: thread/resume failed: no rollout found for thread id {resume}"
                     " (code -32600)\n\nStack backtrace:\n   0: <unknown>\n   1: <unknown>\n")

        thread = first_value(out, "thread_id")
        if resume and thread:
            out = [line.replace(thread, resume) for line in out]
            thread = resume
        subst.update({"<CODEX_HOME>": codex_home, "<CWD>": cwd, "<TMP>": "/tmp",
                      "<PROVIDER_PORT>": "9"})

        if thread:
            os.makedirs(sessions, exist_ok=True)
            with open(os.path.join(sessions, thread + ".jsonl"), "a") as fh:
                fh.write(json.dumps({"thread_id": thread, "prompt": argv[-1]}) + "\n")

        def mcp_endpoint():
            if not record["config"]:
                return None
            server = record["config"]["parsed"]["mcp_servers"]["clawboo-tasks"]
            return server["url"], os.environ[server["bearer_token_env_var"]]
    """
