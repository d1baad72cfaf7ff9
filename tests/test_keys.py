"""Key resolution: env → vault → OpenClaw .env, and vault-only after a disconnect."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawboo_host.keys import KeyResolver, openclaw_state_dir, read_dotenv_var
from clawboo_host.vault import Vault

ENV_KEY = "sk-ant-test-env-0123"
VAULT_KEY = "sk-ant-test-vault-0123"
DOTENV_KEY = "sk-ant-test-dotenv-0123"
STATE_VARS = ("OPENCLAW_STATE_DIR", "MOLTBOT_STATE_DIR", "CLAWDBOT_STATE_DIR")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env() -> dict[str, str]:
    return {}


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "clawboo" / "secrets", env={})


@pytest.fixture
def resolver(vault: Vault, env: dict[str, str], home: Path) -> KeyResolver:
    return KeyResolver(vault, env=env, home=home)


def write_dotenv(home: Path, content: str, dirname: str = ".openclaw") -> Path:
    state = home / dirname
    state.mkdir(parents=True, exist_ok=True)
    path = state / ".env"
    path.write_text(content)
    return path


# ── unscoped chain ──────────────────────────────────────────────────────────────


def test_precedence_dotenv_then_vault_then_env(resolver, vault, env, home):
    assert resolver.resolve("ANTHROPIC_API_KEY") is None
    write_dotenv(home, f"ANTHROPIC_API_KEY={DOTENV_KEY}\n")
    assert resolver.resolve("ANTHROPIC_API_KEY") == DOTENV_KEY
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    assert resolver.resolve("ANTHROPIC_API_KEY") == VAULT_KEY
    env["ANTHROPIC_API_KEY"] = ENV_KEY
    assert resolver.resolve("ANTHROPIC_API_KEY") == ENV_KEY


def test_dotenv_key_resolves_with_empty_vault(resolver, vault, home):
    write_dotenv(home, f"OPENROUTER_API_KEY={DOTENV_KEY}\n")
    assert vault.names() == []
    assert resolver.resolve("OPENROUTER_API_KEY") == DOTENV_KEY
    assert resolver.has_for_runtime("clawboo-native", "OPENROUTER_API_KEY") is True
    assert resolver.has_in_vault("OPENROUTER_API_KEY") is False


def test_env_value_is_trimmed_and_blank_counts_as_absent(resolver, vault, env):
    env["ANTHROPIC_API_KEY"] = f"  {ENV_KEY}\n"
    assert resolver.resolve("ANTHROPIC_API_KEY") == ENV_KEY
    env["ANTHROPIC_API_KEY"] = "   "
    assert resolver.resolve("ANTHROPIC_API_KEY") is None
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    assert resolver.resolve("ANTHROPIC_API_KEY") == VAULT_KEY


def test_vault_value_is_not_trimmed(resolver, vault):
    vault.set("ANTHROPIC_API_KEY", f" {VAULT_KEY} ")
    assert resolver.resolve("ANTHROPIC_API_KEY") == f" {VAULT_KEY} "


def test_undecryptable_vault_value_falls_through_to_dotenv(resolver, vault, home):
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    vault.master_key_path.write_text("A" * 43 + "=")  # a valid but different key
    write_dotenv(home, f"ANTHROPIC_API_KEY={DOTENV_KEY}\n")
    assert resolver.resolve("ANTHROPIC_API_KEY") == DOTENV_KEY
    assert resolver.has_in_vault("ANTHROPIC_API_KEY") is False


def test_env_default_is_os_environ_read_live(vault, home, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    for name in STATE_VARS:
        monkeypatch.delenv(name, raising=False)
    resolver = KeyResolver(vault, home=home)
    assert resolver.resolve("ANTHROPIC_API_KEY") is None
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    assert resolver.resolve("ANTHROPIC_API_KEY") == ENV_KEY


def test_home_default_is_path_home(vault, home, monkeypatch):
    for name in STATE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    write_dotenv(home, f"GEMINI_API_KEY={DOTENV_KEY}\n")
    resolver = KeyResolver(vault, env={})
    assert resolver.openclaw_env_path() == home / ".openclaw" / ".env"
    assert resolver.resolve("GEMINI_API_KEY") == DOTENV_KEY


# ── runtime-scoped chain ────────────────────────────────────────────────────────


def test_disconnected_runtime_sees_vault_only(resolver, vault, env, home):
    env["OPENROUTER_API_KEY"] = ENV_KEY
    write_dotenv(home, f"ANTHROPIC_API_KEY={DOTENV_KEY}\nOPENROUTER_API_KEY={DOTENV_KEY}\n")
    vault.set("OPENAI_API_KEY", VAULT_KEY)
    vault.set_disconnected("clawboo-native", True)

    assert resolver.resolve_for_runtime("clawboo-native", "OPENROUTER_API_KEY") is None
    assert resolver.resolve_for_runtime("clawboo-native", "ANTHROPIC_API_KEY") is None
    assert resolver.resolve_for_runtime("clawboo-native", "OPENAI_API_KEY") == VAULT_KEY
    assert resolver.has_for_runtime("clawboo-native", "OPENROUTER_API_KEY") is False
    assert resolver.has_for_runtime("clawboo-native", "OPENAI_API_KEY") is True

    # another runtime still sees the shell and .env keys
    assert resolver.resolve_for_runtime("claude-code", "OPENROUTER_API_KEY") == ENV_KEY
    assert resolver.resolve_for_runtime("claude-code", "ANTHROPIC_API_KEY") == DOTENV_KEY
    # the unscoped chain ignores the flag on purpose
    assert resolver.resolve("OPENROUTER_API_KEY") == ENV_KEY


def test_disconnected_runtime_prefers_vault_over_env(resolver, vault, env):
    env["ANTHROPIC_API_KEY"] = ENV_KEY
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    vault.set_disconnected("hermes", True)
    assert resolver.resolve_for_runtime("hermes", "ANTHROPIC_API_KEY") == VAULT_KEY
    assert resolver.resolve_for_runtime("claude-code", "ANTHROPIC_API_KEY") == ENV_KEY


def test_reconnect_restores_unscoped_chain(resolver, vault, env):
    env["ANTHROPIC_API_KEY"] = ENV_KEY
    vault.set_disconnected("hermes", True)
    assert resolver.resolve_for_runtime("hermes", "ANTHROPIC_API_KEY") is None
    vault.set_disconnected("hermes", False)
    assert resolver.resolve_for_runtime("hermes", "ANTHROPIC_API_KEY") == ENV_KEY


def test_has_in_vault_ignores_env_and_dotenv(resolver, vault, env, home):
    env["ANTHROPIC_API_KEY"] = ENV_KEY
    write_dotenv(home, f"ANTHROPIC_API_KEY={DOTENV_KEY}\n")
    assert resolver.has_in_vault("ANTHROPIC_API_KEY") is False
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    assert resolver.has_in_vault("ANTHROPIC_API_KEY") is True


def test_grants_for_runtime(resolver, vault, env, home):
    env["OPENROUTER_API_KEY"] = ENV_KEY
    vault.set("ANTHROPIC_API_KEY", VAULT_KEY)
    write_dotenv(home, f"GEMINI_API_KEY={DOTENV_KEY}\n")
    names = ["ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY", "XAI_API_KEY"]
    assert resolver.grants_for_runtime("clawboo-native", names) == {
        "ANTHROPIC_API_KEY": VAULT_KEY,
        "OPENROUTER_API_KEY": ENV_KEY,
        "GEMINI_API_KEY": DOTENV_KEY,
    }
    vault.set_disconnected("clawboo-native", True)
    assert resolver.grants_for_runtime("clawboo-native", iter(names)) == {
        "ANTHROPIC_API_KEY": VAULT_KEY
    }
    assert resolver.grants_for_runtime("codex", []) == {}
    assert resolver.grants_for_runtime("claude-code", ["ANTHROPIC_API_KEY"] * 3) == {
        "ANTHROPIC_API_KEY": VAULT_KEY
    }


# ── OpenClaw state dir ──────────────────────────────────────────────────────────


def test_state_dir_default_when_nothing_exists(home):
    assert openclaw_state_dir({}, home) == home / ".openclaw"


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([".openclaw", ".clawdbot", ".moltbot"], ".openclaw"),
        ([".clawdbot", ".moltbot"], ".clawdbot"),
        ([".moltbot"], ".moltbot"),
    ],
)
def test_state_dir_first_existing_legacy_dir(home, existing, expected):
    for name in existing:
        (home / name).mkdir()
    assert openclaw_state_dir({}, home) == home / expected


def test_state_dir_override_order(home, tmp_path):
    env = {
        "OPENCLAW_STATE_DIR": str(tmp_path / "oc"),
        "MOLTBOT_STATE_DIR": str(tmp_path / "mb"),
        "CLAWDBOT_STATE_DIR": str(tmp_path / "cb"),
    }
    (home / ".openclaw").mkdir()
    assert openclaw_state_dir(env, home) == tmp_path / "oc"
    env["OPENCLAW_STATE_DIR"] = "   "
    assert openclaw_state_dir(env, home) == tmp_path / "mb"
    del env["MOLTBOT_STATE_DIR"]
    assert openclaw_state_dir(env, home) == tmp_path / "cb"
    env["CLAWDBOT_STATE_DIR"] = ""
    assert openclaw_state_dir(env, home) == home / ".openclaw"


def test_state_dir_override_expands_tilde_against_home(home, tmp_path, monkeypatch):
    assert openclaw_state_dir({"OPENCLAW_STATE_DIR": "~/custom"}, home) == home / "custom"
    assert openclaw_state_dir({"OPENCLAW_STATE_DIR": " ~ "}, home) == home
    monkeypatch.chdir(tmp_path)
    assert openclaw_state_dir({"OPENCLAW_STATE_DIR": "rel/dir"}, home) == tmp_path / "rel" / "dir"


def test_override_env_feeds_resolution(resolver, env, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / ".env").write_text(f"XAI_API_KEY={DOTENV_KEY}\n")
    env["CLAWDBOT_STATE_DIR"] = str(state)
    assert resolver.openclaw_env_path() == state / ".env"
    assert resolver.resolve("XAI_API_KEY") == DOTENV_KEY


# ── .env parsing ────────────────────────────────────────────────────────────────


def test_dotenv_parsing_rules(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# ANTHROPIC_API_KEY=commented-out\n"
        "   # INDENTED_COMMENT=x\n"
        "NO_EQUALS_LINE\n"
        "EMPTY_FIRST=\n"
        "EMPTY_FIRST=second-wins\n"
        "  SPACED_KEY  =   spaced value  \n"
        'QUOTED="kept-quotes"\n'
        "SINGLE='kept'\n"
        "WITH_EQUALS=a=b=c\n"
        "DUP=first\n"
        "DUP=second\n"
        "CRLF=windows\r\n"
        "export EXPORTED=not-matched\n"
        "=orphan-value\n"
    )
    assert read_dotenv_var(path, "ANTHROPIC_API_KEY") is None
    assert read_dotenv_var(path, "INDENTED_COMMENT") is None
    assert read_dotenv_var(path, "NO_EQUALS_LINE") is None
    assert read_dotenv_var(path, "EMPTY_FIRST") == "second-wins"
    assert read_dotenv_var(path, "SPACED_KEY") == "spaced value"
    assert read_dotenv_var(path, "QUOTED") == '"kept-quotes"'
    assert read_dotenv_var(path, "SINGLE") == "'kept'"
    assert read_dotenv_var(path, "WITH_EQUALS") == "a=b=c"
    assert read_dotenv_var(path, "DUP") == "first"
    assert read_dotenv_var(path, "CRLF") == "windows"
    assert read_dotenv_var(path, "EXPORTED") is None
    assert read_dotenv_var(path, "export EXPORTED") == "not-matched"
    assert read_dotenv_var(path, "") == "orphan-value"
    assert read_dotenv_var(path, "MISSING") is None


def test_dotenv_missing_or_unreadable(tmp_path):
    assert read_dotenv_var(tmp_path / "absent" / ".env", "X") is None
    as_dir = tmp_path / "dir.env"
    as_dir.mkdir()
    assert read_dotenv_var(as_dir, "X") is None


def test_dotenv_only_key_with_empty_value_is_absent(resolver, home):
    write_dotenv(home, "ANTHROPIC_API_KEY=\nANTHROPIC_API_KEY=   \n")
    assert resolver.resolve("ANTHROPIC_API_KEY") is None


def test_resolve_many_answers_like_resolve_reading_each_source_once(
    resolver, vault, env, home, monkeypatch
):
    env["A_KEY"] = ENV_KEY
    env["B_KEY"] = "   "  # blank: falls through
    vault.set("B_KEY", VAULT_KEY)
    vault.set("C_KEY", "")  # empty in the vault: falls through to the .env
    write_dotenv(home, f"C_KEY={DOTENV_KEY}\nD_KEY=\nD_KEY=second\nE_KEY={DOTENV_KEY}-e\n")
    names = ["A_KEY", "B_KEY", "C_KEY", "D_KEY", "E_KEY", "MISSING_KEY", "A_KEY"]
    expected = {
        "A_KEY": ENV_KEY,
        "B_KEY": VAULT_KEY,
        "C_KEY": DOTENV_KEY,
        "D_KEY": "second",
        "E_KEY": f"{DOTENV_KEY}-e",
    }
    assert {n: resolver.resolve(n) for n in names if resolver.resolve(n)} == expected

    reads: list[str] = []
    real_read_text = Path.read_text

    def read_text(path: Path, *args, **kwargs) -> str:
        reads.append(path.name)
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert resolver.resolve_many(names) == expected
    assert reads.count(vault.keys_path.name) == 1 and reads.count(".env") == 1


def test_grants_after_a_disconnect_come_from_the_vault_only(resolver, vault, env):
    env["A_KEY"] = ENV_KEY
    vault.set("B_KEY", VAULT_KEY)
    vault.set_disconnected("codex", True)
    assert resolver.grants_for_runtime("codex", ["A_KEY", "B_KEY"]) == {"B_KEY": VAULT_KEY}
    assert resolver.grants_for_runtime("claude-code", ["A_KEY", "B_KEY"]) == {
        "A_KEY": ENV_KEY,
        "B_KEY": VAULT_KEY,
    }
