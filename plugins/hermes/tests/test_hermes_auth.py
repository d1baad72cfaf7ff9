"""Hermes's own ChatGPT login (auth.json) counts as a credential; token values never leak."""

import json

import clawboo_hermes
import pytest
from clawboo_hermes import has_chatgpt_auth, hermes_home


@pytest.mark.parametrize(
    "data,expected",
    [
        (
            {
                "providers": {
                    "openai-codex": {"tokens": {"access_token": "a", "refresh_token": "r"}}
                }
            },
            True,
        ),
        (
            {
                "providers": {
                    "openai-codex": {"tokens": {"access_token": "a", "refresh_token": " "}}
                }
            },
            False,
        ),
        ({"credential_pool": {"openai-codex": [{"refresh_token": "r"}]}}, True),
        ({"credential_pool": {"openai-codex": [{"access_token": ""}, "junk"]}}, False),
        ({"credential_pool": {"openai-codex": {"access_token": "a"}}}, False),
        ([], False),
        ({}, False),
    ],
)
def test_auth_file_shapes(tmp_path, data, expected):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps(data))
    assert has_chatgpt_auth(path) is expected


def test_missing_or_malformed_files(tmp_path):
    assert has_chatgpt_auth(tmp_path / "missing.json") is False
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert has_chatgpt_auth(bad) is False


def test_hermes_home_resolution(tmp_path):
    assert hermes_home({"HERMES_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert hermes_home({"HOME": str(tmp_path)}) == tmp_path / ".hermes"


def test_descriptor_matches_the_catalog():
    d = clawboo_hermes.DESCRIPTOR
    assert d.install.package == "hermes-agent[anthropic,mcp]<1"
    assert d.install_command == "pipx install 'hermes-agent[anthropic,mcp]<1'"
    assert d.env_vars == ("OPENROUTER_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY")
    caps = d.capabilities.to_json()
    assert (
        caps["streaming"] is False
        and caps["nativeSkills"] == "preserve"
        and caps["nativeScheduler"] is True
    )
