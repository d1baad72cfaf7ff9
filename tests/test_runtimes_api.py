"""GET /api/runtimes, connect and disconnect over real HTTP, with fake CLIs on PATH."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

KEY = "sk-ant-test-key-000001"
OR_KEY = "sk-or-test-key-000001"

CODEX_LOGGED_OUT = "import sys\nprint('Not logged in')\n"
CODEX_LOGGED_IN = "import sys\nprint('Logged in using ChatGPT')\n"


@pytest.fixture
def host(clawboo_host_factory):
    with clawboo_host_factory().client() as client:
        yield client


def rows(client) -> dict:
    return {r["id"]: r for r in client.get("/api/runtimes").json()["runtimes"]}


def vault_entries(data_dir) -> dict:
    path = data_dir / "secrets" / "runtime-keys.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_lists_the_built_in_runtimes_with_the_public_catalog(host):
    body = host.get("/api/runtimes").json()
    assert list(body) == ["runtimes", "available"]
    assert [r["id"] for r in body["runtimes"]] == [
        "claude-code",
        "codex",
        "hermes",
        "clawboo-native",
        "gemini-cli",  # built on the public API alone: ordered like any other plugin, by id
    ]
    available = {d["id"]: d for d in body["available"]}
    assert available["hermes"] == {
        "id": "hermes",
        "name": "Hermes",
        "healthBin": "hermes",
        "packageManager": "pip",
        "installCommand": "pipx install 'hermes-agent[anthropic,mcp]<1'",
        "builtIn": False,
        "authKind": "api-key",
        "envVar": "OPENROUTER_API_KEY",
        "docsUrl": "https://pypi.org/project/hermes-agent/",
        "headlessAuth": True,
    }
    assert available["codex"]["installCommand"] == "npm install -g @openai/codex@0"
    assert available["gemini-cli"]["installCommand"] == "npm install -g @google/gemini-cli@0"
    assert (
        available["claude-code"]["installCommand"] == "npm install -g @anthropic-ai/claude-code@2"
    )


def test_native_row_on_a_clean_machine(host):
    native = rows(host)["clawboo-native"]
    assert native["installed"] is True and native["binPath"] is None and native["builtIn"] is True
    assert native["capabilities"]["runtimeClass"] == "native"
    assert native["connectionState"] == "needs-auth"
    assert native["health"]["ok"] is False
    assert native["health"]["message"].startswith(
        "no provider key connected (ANTHROPIC_API_KEY or OPENAI_API_KEY"
    )
    assert native["health"]["message"].endswith("MOONSHOT_API_KEY, or set OLLAMA_BASE_URL)")
    claude = rows(host)["claude-code"]
    assert claude["health"] == {
        "ok": False,
        "message": "claude not found on PATH or user-install dirs",
    }
    assert claude["connectionState"] == "not-installed"


def test_unknown_reserved_and_wrong_case_ids_are_404_on_every_route(host):
    for rid in ("openclaw", "Claude-Code", "nope", "clawboo-mock"):
        for action in ("connect", "disconnect", "install", "healthcheck", "run"):
            response = host.post(f"/api/runtimes/{rid}/{action}", json={})
            assert response.status_code == 404, (rid, action)
            assert response.json() == {"error": f"unknown runtime '{rid}'"}


def test_claude_code_connect_stores_ciphertext_only(host, fake_executables, clawboo_data_dir):
    fake_executables.add("claude", "pass\n")
    response = host.post("/api/runtimes/claude-code/connect", json={"apiKey": f"  {KEY}  "})
    assert response.status_code == 200
    assert response.json() == {"ok": True, "connectionState": "ready"}
    assert KEY not in response.text
    entry = vault_entries(clawboo_data_dir)["ANTHROPIC_API_KEY"]
    assert set(entry) == {"iv", "tag", "ciphertext"}
    secrets = clawboo_data_dir / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for name in ("master.key", "runtime-keys.json"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600
    for path in clawboo_data_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()
    # Hermes shares the Anthropic slot: it becomes ready once installed.
    fake_executables.add("hermes", "pass\n")
    assert rows(host)["hermes"]["connectionState"] == "ready"


def test_connect_refusals(host):
    response = host.post("/api/runtimes/hermes/connect", json={})
    assert (response.status_code, response.json()) == (400, {"error": "apiKey is required"})
    response = host.post("/api/runtimes/hermes/connect", json={"provider": "openrouter"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "no existing key found for openrouter — paste one to connect"
    }
    response = host.post(
        "/api/runtimes/clawboo-native/connect", json={"apiKey": KEY, "provider": "bogus"}
    )
    assert (response.status_code, response.json()) == (400, {"error": "unknown provider 'bogus'"})
    response = host.post("/api/runtimes/clawboo-native/connect", json={"apiKey": 42})
    assert (response.status_code, response.json()) == (400, {"error": "apiKey is required"})


def test_a_bad_request_changes_nothing(host, clawboo_data_dir):
    host.post("/api/runtimes/clawboo-native/connect", json={"apiKey": KEY, "provider": "bogus"})
    assert vault_entries(clawboo_data_dir) == {}


def test_codex_connect_returns_the_login_command(host, fake_executables):
    assert rows(host)["codex"]["connectionState"] == "not-installed"
    fake_executables.add("codex", CODEX_LOGGED_OUT)
    assert rows(host)["codex"]["connectionState"] == "needs-login"
    response = host.post("/api/runtimes/codex/connect", json={"apiKey": "ignored"})
    assert response.json() == {
        "ok": True,
        "connectionState": "needs-login",
        "loginCommand": "codex login",
    }


def test_codex_logged_in_is_ready(host, fake_executables):
    fake_executables.add("codex", CODEX_LOGGED_IN)
    codex = rows(host)["codex"]
    assert codex["loggedIn"] is True and codex["connectionState"] == "ready"
    response = host.post("/api/runtimes/codex/connect")
    assert response.json()["connectionState"] == "ready"


def test_hermes_connect_then_disconnect(host, fake_executables, clawboo_data_dir):
    fake_executables.add("hermes", "pass\n")
    assert (
        host.post("/api/runtimes/hermes/connect", json={"apiKey": OR_KEY}).json()["connectionState"]
        == "ready"
    )
    assert "OPENROUTER_API_KEY" in vault_entries(clawboo_data_dir)
    response = host.post("/api/runtimes/hermes/disconnect")
    assert response.json() == {"ok": True, "connectionState": "needs-auth"}
    assert "OPENROUTER_API_KEY" not in vault_entries(clawboo_data_dir)


def test_hermes_chatgpt_login_counts_as_a_credential(host, fake_executables, clawboo_env, tmp_path):
    fake_executables.add("hermes", "pass\n")
    fake_executables.add("codex", CODEX_LOGGED_OUT)
    home = tmp_path / "hermes-home"
    home.mkdir(exist_ok=True)
    (home / "auth.json").write_text(
        json.dumps(
            {
                "providers": {
                    "openai-codex": {"tokens": {"access_token": "a-tok", "refresh_token": "r-tok"}}
                }
            }
        )
    )
    all_rows = rows(host)
    hermes = all_rows["hermes"]
    assert (hermes["codexAuth"], hermes["hasCredential"], hermes["hasVaultCredential"]) == (
        True,
        True,
        False,
    )
    assert hermes["connectionState"] == "ready"
    assert all_rows["codex"]["codexAuth"] is False
    assert "a-tok" not in json.dumps(all_rows)


def test_ambient_openclaw_key_and_the_disconnect_flag(host, tmp_path):
    openclaw = tmp_path / "openclaw"
    openclaw.mkdir()
    (openclaw / ".env").write_text(f"# comment\nOPENROUTER_API_KEY={OR_KEY}\n")
    assert rows(host)["clawboo-native"]["hasCredential"] is True
    host.post("/api/runtimes/clawboo-native/disconnect")
    native = rows(host)["clawboo-native"]
    assert native["hasCredential"] is False and native["connectionState"] == "needs-auth"
    # keyless reuse: the key still resolves through the unscoped chain, so this lifts the flag
    response = host.post("/api/runtimes/clawboo-native/connect", json={"provider": "openrouter"})
    assert response.json() == {"ok": True, "connectionState": "ready"}
    assert OR_KEY not in response.text
    assert rows(host)["clawboo-native"]["hasCredential"] is True


def test_native_provider_routing(host, clawboo_data_dir):
    for provider, slot in (
        ("openai", "OPENAI_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
        ("groq", "GROQ_API_KEY"),
    ):
        response = host.post(
            "/api/runtimes/clawboo-native/connect",
            json={"apiKey": f"k-{provider}-123456", "provider": provider},
        )
        assert response.json() == {"ok": True, "connectionState": "ready"}
        assert slot in vault_entries(clawboo_data_dir)
    assert "ANTHROPIC_API_KEY" not in vault_entries(clawboo_data_dir)
    host.post("/api/runtimes/clawboo-native/connect", json={"apiKey": KEY})
    assert "ANTHROPIC_API_KEY" in vault_entries(clawboo_data_dir)
    host.post("/api/runtimes/clawboo-native/disconnect")
    assert vault_entries(clawboo_data_dir) == {}


def test_ollama_is_keyless(host, clawboo_data_dir):
    response = host.post(
        "/api/runtimes/clawboo-native/connect", json={"provider": "ollama", "apiKey": "x"}
    )
    assert response.json() == {"ok": True, "connectionState": "needs-auth"}
    assert vault_entries(clawboo_data_dir) == {}


def test_groq_without_any_key_is_refused(host):
    response = host.post("/api/runtimes/clawboo-native/connect", json={"provider": "groq"})
    assert response.status_code == 400 and "groq" in response.json()["error"]


def test_env_keys_make_native_ready(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, GROQ_API_KEY="env-groq-key-1234", OLLAMA_BASE_URL="")
    with clawboo_host_factory(env=env).client() as client:
        native = rows(client)["clawboo-native"]
        assert native["hasCredential"] is True and native["hasVaultCredential"] is False
        assert native["connectionState"] == "ready"


def test_ollama_only_is_healthy_but_needs_auth(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, OLLAMA_BASE_URL="http://127.0.0.1:9/v1")
    with clawboo_host_factory(env=env).client() as client:
        native = rows(client)["clawboo-native"]
        assert native["health"] == {"ok": True}
        assert native["connectionState"] == "needs-auth"


def test_concurrent_connects_lose_no_key(host, clawboo_data_dir):
    providers = [
        "openai",
        "openrouter",
        "groq",
        "xai",
        "mistral",
        "together",
        "cerebras",
        "moonshot",
        "google",
    ]

    def connect(provider):
        return host.post(
            "/api/runtimes/clawboo-native/connect",
            json={"apiKey": f"key-{provider}-0001", "provider": provider},
        )

    with ThreadPoolExecutor(len(providers)) as pool:
        assert all(r.status_code == 200 for r in pool.map(connect, providers))
    assert len(vault_entries(clawboo_data_dir)) == len(providers)


def test_every_error_is_json(host):
    response = host.post(
        "/api/runtimes/claude-code/connect",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and "error" in response.json()
    response = host.get("/api/nothing-here")
    assert (response.status_code, response.json()) == (404, {"error": "Not Found"})
    response = host.delete("/api/runtimes")
    assert (response.status_code, response.json()) == (405, {"error": "Method Not Allowed"})
    response = host.get("/api/runtimes/claude-code/connect")
    assert response.status_code == 405 and response.json() == {"error": "Method Not Allowed"}


def test_only_a_runtime_with_a_healthcheck_hook_has_one(host):
    response = host.post("/api/runtimes/claude-code/healthcheck", json={"apiKey": KEY})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": "healthcheck is only supported for the native runtime",
    }


def test_a_json_body_without_its_content_type_is_still_read(host, clawboo_data_dir):
    response = host.post(
        "/api/runtimes/clawboo-native/connect",
        content=b'{"apiKey": "key-no-header-01"}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json() == {"ok": True, "connectionState": "ready"}
    response = host.post(
        "/api/runtimes/clawboo-native/connect",
        content=b"apiKey=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and "must be JSON" in response.json()["error"]
    response = host.post("/api/runtimes/clawboo-native/connect", json=["not", "an", "object"])
    assert (response.status_code, response.json()) == (
        400,
        {"error": "JSON body must be an object"},
    )


def test_deeply_nested_json_is_a_400_not_a_crash(host, clawboo_data_dir):
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (deep, b'{"apiKey": ' + deep + b"}"):
        response = host.post(
            "/api/runtimes/clawboo-native/connect",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "malformed JSON body"}
    assert vault_entries(clawboo_data_dir) == {}


def test_a_lone_surrogate_in_a_json_string_is_a_400_not_a_crash(host, clawboo_data_dir):
    for path, body in (
        ("/api/runtimes/clawboo-native/connect", b'{"apiKey": "sk-\\ud800-key"}'),
        ("/api/onboarding/seed-native-team", b'{"provider": "x\\udfff"}'),
        ("/api/board/tasks", b'{"title": "a\\ud800"}'),
    ):
        response = host.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {"error": "malformed JSON body"}
    assert vault_entries(clawboo_data_dir) == {}
    assert host.get("/api/board/tasks").json() == {"tasks": []}
    assert host.get("/api/teams").json() == {"teams": []}
