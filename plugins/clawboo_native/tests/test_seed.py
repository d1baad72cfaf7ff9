"""POST /api/onboarding/seed-native-team through the native plugin's seeding hook."""

from __future__ import annotations

import json
import sqlite3

import clawboo_native
import pytest

PICK = "boo-zero:native-leader-model"


@pytest.fixture
def make_host(clawboo_host_factory, clawboo_env):
    def make(**env_extra):
        server = clawboo_host_factory(
            plugins=[("clawboo-native", clawboo_native)], env=dict(clawboo_env, **env_extra)
        )
        return server.client()

    return make


def settings(data_dir) -> dict:
    with sqlite3.connect(data_dir / "clawboo.db") as db:
        return dict(db.execute("SELECT key, value FROM settings"))


def set_pick(data_dir, provider, model):
    with sqlite3.connect(data_dir / "clawboo.db") as db:
        db.execute(
            "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z')",
            (PICK, json.dumps({"provider": provider, "model": model})),
        )


def seed(client, **body):
    response = client.post("/api/onboarding/seed-native-team", json=body)
    return response.status_code, response.json()


def agents_of(client, team_id):
    body = client.get(f"/api/teams/{team_id}").json()
    return body["team"], {a["role"]: a for a in body["agents"]}


def test_explicit_anthropic(make_host, clawboo_data_dir):
    with make_host() as client:
        status, body = seed(client, provider="anthropic")
        assert status == 201 and set(body) == {"teamId", "leaderAgentId", "specialistAgentId"}
        assert body["leaderAgentId"].startswith("native-team-lead-")
        assert body["specialistAgentId"].startswith("native-coder-")
        team, agents = agents_of(client, body["teamId"])
        assert team["leaderAgentId"] == body["leaderAgentId"] and team["name"] == "My First Team"
        assert {a["runtime"] for a in agents.values()} == {"clawboo-native"}
        assert (agents["leader"]["model"], agents["specialist"]["model"]) == (
            "claude-sonnet-4-6",
            "claude-haiku-4-5",
        )
    stored = settings(clawboo_data_dir)
    flags = json.loads(stored[f"team-onboarding:{body['teamId']}"])
    assert flags["agentsIntroduced"] and flags["userIntroduced"]
    assert stored[f"team-server-orchestrated:{body['teamId']}"] == "true"
    assert json.loads(stored[PICK]) == {"provider": "anthropic", "model": "claude-sonnet-4-6"}


def test_nothing_connected_falls_back_to_anthropic_unrecorded(make_host, clawboo_data_dir):
    with make_host() as client:
        _, body = seed(client)
        _, agents = agents_of(client, body["teamId"])
    assert agents["leader"]["provider"] == "anthropic"
    assert PICK not in settings(clawboo_data_dir)


def test_the_first_connected_provider_is_used_and_recorded(make_host, clawboo_data_dir):
    with make_host(OPENROUTER_API_KEY="or-env-key-0001") as client:
        _, body = seed(client)
        _, agents = agents_of(client, body["teamId"])
    assert (agents["leader"]["provider"], agents["leader"]["model"]) == (
        "openrouter",
        "anthropic/claude-haiku-4.5",
    )
    assert agents["specialist"]["model"] == "openai/gpt-4o-mini"
    assert json.loads(settings(clawboo_data_dir)[PICK]) == {
        "provider": "openrouter",
        "model": "anthropic/claude-haiku-4.5",
    }


def test_ollama_only(make_host):
    with make_host(OLLAMA_BASE_URL="http://127.0.0.1:9") as client:
        _, body = seed(client)
        _, agents = agents_of(client, body["teamId"])
    assert (agents["leader"]["provider"], agents["leader"]["model"]) == ("ollama", "llama3.2")


def test_a_runnable_recorded_pick_wins_and_is_kept(make_host, clawboo_data_dir):
    with make_host(OPENROUTER_API_KEY="or-env-key-0001") as client:
        seed(client, provider="anthropic")  # creates the DB; then record a pick by hand
        set_pick(clawboo_data_dir, "openrouter", "minimax/m2.5")
        _, body = seed(client, model="z-ai/glm-5")
        _, agents = agents_of(client, body["teamId"])
        assert agents["leader"]["model"] == "z-ai/glm-5"
        _, body = seed(client)
        _, agents = agents_of(client, body["teamId"])
        assert agents["leader"]["model"] == "minimax/m2.5"
    assert json.loads(settings(clawboo_data_dir)[PICK])["model"] == "minimax/m2.5"


def test_an_unrunnable_pick_is_not_overwritten(make_host, clawboo_data_dir):
    with make_host(OPENAI_API_KEY="oa-env-key-0001") as client:
        seed(client, provider="openai")
        set_pick(clawboo_data_dir, "openrouter", "minimax/m2.5")
        _, body = seed(client, model="gpt-4.1-mini")
        _, agents = agents_of(client, body["teamId"])
    assert (agents["leader"]["provider"], agents["leader"]["model"]) == ("openai", "gpt-4.1-mini")
    assert agents["specialist"]["model"] == "gpt-4o-mini"
    assert json.loads(settings(clawboo_data_dir)[PICK])["provider"] == "openrouter"


def test_an_unknown_provider_is_400_and_writes_nothing(make_host, clawboo_data_dir):
    with make_host() as client:
        status, body = seed(client, provider="OpenAI")
        assert (status, body) == (400, {"error": "unknown provider 'OpenAI'"})
        assert client.get("/api/teams").json()["teams"] == []


def test_each_call_mints_a_new_team(make_host):
    with make_host() as client:
        first = seed(client)[1]["teamId"]
        second = seed(client)[1]["teamId"]
        assert first != second
        assert len(client.get("/api/teams").json()["teams"]) == 2
