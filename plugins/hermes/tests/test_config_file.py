"""The run's config.yaml and .env, made from the user's own (real files, PyYAML round trip)."""

from __future__ import annotations

import os

import pytest
import yaml
from clawboo_hermes.config_file import (
    HEADER,
    UserConfigError,
    carry_dotenv,
    load_user_config,
    names_provider_or_model,
    render,
    user_is_configured,
    write_config,
)

URL = "http://127.0.0.1:18790/api/mcp/tasks"
TOKEN = "run-token-abc123"

USER_CONFIG = """\
# my gateway
model:
  provider: custom
  base_url: http://gateway.internal/v1
  default: gw-model
toolsets: [hermes-cli]
mcp_servers:
  github:
    command: gh-mcp
  clawboo-tasks:
    url: http://evil.example/mcp
"""


@pytest.fixture
def user_home(tmp_path):
    home = tmp_path / "user" / ".hermes"
    home.mkdir(parents=True)
    return home


def test_the_users_settings_are_kept_and_mcp_servers_replaced(user_home):
    (user_home / "config.yaml").write_text(USER_CONFIG)
    config = load_user_config(user_home)
    text = render(config, URL, TOKEN)
    assert text.startswith(HEADER)
    parsed = yaml.safe_load(text)
    assert parsed["model"] == {
        "provider": "custom",
        "base_url": "http://gateway.internal/v1",
        "default": "gw-model",
    }
    assert parsed["toolsets"] == ["hermes-cli"]
    assert parsed["mcp_servers"] == {
        "clawboo-tasks": {"url": URL, "headers": {"Authorization": f"Bearer {TOKEN}"}}
    }
    # without a run channel: no MCP server at all
    assert "mcp_servers" not in yaml.safe_load(render(config, None, None))


def test_no_user_config_gives_just_the_mcp_entry(user_home, tmp_path):
    assert load_user_config(user_home) == {}
    (user_home / "config.yaml").write_text("")
    assert load_user_config(user_home) == {}
    assert yaml.safe_load(render({}, URL, TOKEN)) == {
        "mcp_servers": {
            "clawboo-tasks": {"url": URL, "headers": {"Authorization": f"Bearer {TOKEN}"}}
        }
    }
    assert yaml.safe_load(render({}, None, None)) is None


@pytest.mark.parametrize(
    "text,message",
    [("model: [unclosed\n", "is not valid YAML"), ("- a list\n", "is not a mapping")],
)
def test_an_unusable_user_config_is_a_clear_error(user_home, text, message):
    (user_home / "config.yaml").write_text(text)
    with pytest.raises(UserConfigError, match=message):
        load_user_config(user_home)
    assert user_is_configured(user_home) is False


def test_the_runs_own_home_is_never_read_as_the_users(user_home):
    (user_home / "config.yaml").write_text(USER_CONFIG)
    assert load_user_config(user_home, exclude=user_home) == {}


@pytest.mark.parametrize(
    "config,expected",
    [
        ({}, False),
        ({"model": ""}, False),
        ({"model": "anthropic/claude-sonnet-4"}, True),
        ({"model": {"provider": "auto"}}, False),
        ({"model": {"provider": "openrouter"}}, True),
        ({"model": {"default": "gpt-4o"}}, True),
        ({"model": {"base_url": "http://127.0.0.1:8080/v1"}}, True),
        ({"toolsets": ["x"]}, False),
    ],
)
def test_names_provider_or_model(config, expected):
    assert names_provider_or_model(config) is expected


def test_write_config_is_private_and_atomic(tmp_path):
    path = write_config(tmp_path, {"model": "x"}, URL, TOKEN)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_the_dotenv_is_copied_0600_and_its_values_returned(user_home, tmp_path):
    run_home = tmp_path / "run-home"
    run_home.mkdir()
    source = user_home / ".env"
    source.write_text("# keys\nOPENAI_API_KEY=sk-user-dotenv-key\nEMPTY=\nQUOTED='q-value-1'\n")
    os.utime(source, (1_600_000_000, 1_600_000_000))
    values = carry_dotenv(user_home, run_home)
    assert values == ["sk-user-dotenv-key", "q-value-1"]
    copy = run_home / ".env"
    assert copy.read_text() == source.read_text()
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    assert source.stat().st_mtime == 1_600_000_000
    # the user removed theirs: the stale copy goes too
    source.unlink()
    assert carry_dotenv(user_home, run_home) == []
    assert not copy.exists()


def test_loading_the_plugin_does_not_import_pyyaml():
    """PyYAML is imported by a run, not by every host start (it cost ~10 ms of it)."""
    import subprocess
    import sys

    code = "import sys, clawboo_hermes; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
