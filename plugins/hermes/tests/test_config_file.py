"""Line edits of $HERMES_HOME/config.yaml: our entry in, our entry out, the rest untouched."""

from __future__ import annotations

import json
import os
import stat

import pytest
from clawboo_hermes import config_file
from clawboo_hermes.config_file import (
    BEGIN,
    END,
    UnsupportedConfig,
    add_entry,
    configured_provider,
    remove_entry,
)

URL = "http://127.0.0.1:18790/api/mcp/tasks"
TOKEN = "tok-0123456789"

# Files whose entry comes out exactly as it went in.
ROUND_TRIP = [
    "",
    "model:\n  default: anthropic/claude-sonnet-4\n",
    "# only a comment\n",
    "mcp_servers:\n    fs:\n        command: npx\n# tail\nother: 1\n",
    "mcp_servers:  # mine\n  fs:\n    url: http://example.invalid/mcp\n\nagent:\n  max_turns: 9\n",
    "mcp_servers:\n",
    "text: |\n  mcp_servers:\n  clawboo-tasks:\nend: 1\n",
]


def entry_of(text: str) -> dict:
    """What our fenced block says (a line parser for the shape we write)."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == BEGIN)
    block = lines[start + 1 : next(i for i, l in enumerate(lines) if l.strip() == END)]
    values = {}
    for line in block:
        key, _, value = line.strip().partition(":")
        if value.strip():
            values[key] = json.loads(value.strip())
    return values


@pytest.mark.parametrize("original", ROUND_TRIP)
def test_round_trip(original):
    added = add_entry(original, URL, TOKEN)
    assert entry_of(added) == {"url": URL, "Authorization": f"Bearer {TOKEN}"}
    assert sum(1 for l in added.splitlines() if l.startswith("mcp_servers")) == 1
    assert remove_entry(added) == original
    assert remove_entry(original) == original


def test_entry_goes_under_an_existing_mapping_at_its_indentation():
    added = add_entry("mcp_servers:\n    fs:\n        command: npx\n", URL, TOKEN)
    assert added.splitlines()[1:3] == [f"    {BEGIN}", "    clawboo-tasks:"]


def test_adding_twice_replaces_the_entry():
    once = add_entry("a: 1\n", URL, "first-token")
    twice = add_entry(once, URL, "second-token")
    assert "first-token" not in twice and twice.count("clawboo-tasks:") == 1


def test_unfenced_stale_entry_is_removed_and_the_rest_kept():
    text = (
        "mcp_servers:\n"
        "  clawboo-tasks:\n"
        "    url: http://127.0.0.1:1/api/mcp/tasks\n"
        "    headers:\n"
        "      Authorization: Bearer old\n"
        "  'fs':\n"
        "    command: npx\n"
        "clawboo-tasks: top-level keys are not ours\n"
    )
    assert remove_entry(text) == (
        "mcp_servers:\n  'fs':\n    command: npx\nclawboo-tasks: top-level keys are not ours\n"
    )


def test_an_empty_flow_mapping_becomes_a_block():
    added = add_entry("mcp_servers: {}\nx: 1\n", URL, TOKEN)
    assert added.startswith("mcp_servers:\n  " + BEGIN)
    assert remove_entry(added) == "mcp_servers:\nx: 1\n"


def test_a_flow_mapping_with_servers_is_not_edited():
    with pytest.raises(UnsupportedConfig):
        add_entry("mcp_servers: {fs: {command: npx}}\n", URL, TOKEN)


def test_values_are_quoted():
    added = add_entry("", 'http://h/"x"', 'a"b\\c')
    assert entry_of(added) == {"url": 'http://h/"x"', "Authorization": 'Bearer a"b\\c'}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("model:\n  provider: anthropic\n", "anthropic"),
        ("model:\n  default: x\n  provider: 'openrouter'  # c\n", "openrouter"),
        ("model:\n  provider: auto\n", None),
        ("model:\n  fallback:\n    provider: nous\n", None),
        ("providers:\n  provider: nous\n", None),
        ("model: gpt-4o\nprovider: nous\n", None),
        ("", None),
    ],
)
def test_configured_provider(text, expected):
    assert configured_provider(text) == expected


def test_attach_and_detach_files(tmp_path):
    path = tmp_path / "config.yaml"
    config_file.attach(tmp_path, URL, TOKEN)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config_file.detach(tmp_path)
    assert not path.exists()

    path.write_text("a: 1\n")
    os.chmod(path, 0o644)
    config_file.attach(tmp_path, URL, TOKEN)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config_file.attach(tmp_path, None, None)  # no MCP this time: our entry goes
    assert path.read_text() == "a: 1\n"
    config_file.detach(tmp_path)
    assert path.read_text() == "a: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no temp files left
