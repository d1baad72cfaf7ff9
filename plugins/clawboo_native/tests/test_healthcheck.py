"""POST /api/runtimes/clawboo-native/healthcheck against a fake provider on loopback."""

from __future__ import annotations

import json

import clawboo_native
import pytest

from clawboo_host.testing.helpers import connect

KEY = "sk-ant-test-health-0001"


@pytest.fixture
def native(clawboo_host_factory, clawboo_env, provider):
    env = dict(clawboo_env, CLAWBOO_HEALTHCHECK_TIMEOUT_S="1")
    for name in ("ANTHROPIC", "OPENAI", "OPENROUTER", "GROQ"):
        env[f"{name}_BASE_URL"] = provider.url + ("" if name == "ANTHROPIC" else "/v1")
    env["OLLAMA_BASE_URL"] = provider.url + "/v1"
    server = clawboo_host_factory(plugins=[("clawboo-native", clawboo_native)], env=env)
    with server.client() as client:
        yield client


def check(client, **body):
    response = client.post("/api/runtimes/clawboo-native/healthcheck", json=body)
    return response.status_code, response.json()


def test_a_good_anthropic_key(native, provider, clawboo_data_dir):
    provider.respond("GET", "/v1/models", 200, {"data": []})
    assert check(native, provider="anthropic", apiKey=KEY) == (200, {"ok": True})
    request = provider.requests[-1]
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert not (clawboo_data_dir / "secrets" / "runtime-keys.json").exists()


def test_provider_defaults_to_anthropic(native, provider):
    provider.respond("GET", "/v1/models", 200, {"data": []})
    assert check(native, apiKey=KEY) == (200, {"ok": True})


@pytest.mark.parametrize(
    "status,error",
    [
        (401, "Invalid API key."),
        (403, "Invalid API key."),
        (500, "Provider returned 500."),
        (302, "Could not reach openai."),
    ],
)
def test_outcomes(native, provider, status, error):
    if status == 302:
        provider.redirect_to("GET", "/v1/models", "http://127.0.0.1:9/steal")
    else:
        provider.respond("GET", "/v1/models", status, {"error": "x"})
    code, body = check(native, provider="openai", apiKey="openai-key-0001")
    assert (code, body) == (200, {"ok": False, "error": error})
    assert provider.requests[-1].headers["authorization"] == "Bearer openai-key-0001"
    assert len(provider.requests) == 1  # the redirect was not followed


def test_a_hanging_provider_times_out(native, provider):
    provider.respond("GET", "/v1/models", 200, {}, delay=3)
    assert check(native, provider="openrouter", apiKey="or-key-0001") == (
        200,
        {"ok": False, "error": "Could not reach openrouter (timed out)."},
    )


def test_an_unreachable_provider(clawboo_host_factory, clawboo_env):
    env = dict(clawboo_env, GROQ_BASE_URL="http://127.0.0.1:9/v1")
    with clawboo_host_factory(
        plugins=[("clawboo-native", clawboo_native)], env=env
    ).client() as client:
        assert check(client, provider="groq", apiKey="groq-key-0001") == (
            200,
            {"ok": False, "error": "Could not reach groq."},
        )


def test_ollama_is_keyless_and_strips_v1(native, provider):
    provider.respond("GET", "/api/tags", 200, {"models": []})
    assert check(native, provider="ollama") == (200, {"ok": True})
    assert "authorization" not in provider.requests[-1].headers


def test_the_stored_key_is_used_but_not_echoed_or_resaved(native, provider, clawboo_data_dir):
    connect(native, "clawboo-native", "or-stored-key-0001", provider="openrouter")
    before = (clawboo_data_dir / "secrets" / "runtime-keys.json").read_bytes()
    provider.respond("GET", "/v1/models", 200, {"data": []})
    code, body = check(native, provider="openrouter")
    assert (code, body) == (200, {"ok": True})
    assert provider.requests[-1].headers["authorization"] == "Bearer or-stored-key-0001"
    assert "or-stored-key" not in json.dumps(body)
    assert (clawboo_data_dir / "secrets" / "runtime-keys.json").read_bytes() == before


def test_refusals_make_no_request(native, provider):
    assert check(native, provider="openai") == (400, {"ok": False, "error": "apiKey is required"})
    assert check(native, provider="bogus", apiKey="x") == (
        400,
        {"ok": False, "error": "unknown provider 'bogus'"},
    )
    assert provider.requests == []
