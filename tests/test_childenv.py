"""The scrubbed child environment: every rule of api-contract §5.5, plus provider keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clawboo_host.plugin_api.childenv import (
    AWS_CREDENTIAL_NAMES,
    PROVIDER_KEY_NAMES,
    SCRUBBED_NAMES,
    bedrock_enabled,
    build_child_env,
)

# Verbatim from api-contract §5.5, so a drift in the module's lists fails here.
CLAWBOO_OWN = [
    "GATEWAY_AUTH_TOKEN",
    "STUDIO_ACCESS_TOKEN",
    "CLAWBOO_SECRETS_MASTER_KEY",
    "CLAWBOO_ACCESS_TOKEN",
    "CLAWBOO_DATABASE_URL",  # ours beyond §5.5: the board's URL may carry its password
]
OPERATOR = [
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_PAT",
    "GITLAB_TOKEN",
    "GITLAB_PERSONAL_ACCESS_TOKEN",
    "BITBUCKET_TOKEN",
    "NPM_TOKEN",
    "NODE_AUTH_TOKEN",
    "PYPI_TOKEN",
    "TWINE_PASSWORD",
    "CARGO_REGISTRY_TOKEN",
    "DIGITALOCEAN_TOKEN",
    "DIGITALOCEAN_ACCESS_TOKEN",
    "DO_API_TOKEN",
    "VERCEL_TOKEN",
    "NETLIFY_AUTH_TOKEN",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_KEY",
    "CF_API_TOKEN",
    "HEROKU_API_KEY",
    "FLY_API_TOKEN",
    "RAILWAY_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_KEY",
    "TWILIO_AUTH_TOKEN",
    "SENDGRID_API_KEY",
    "MAILGUN_API_KEY",
    "SLACK_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "DATABASE_URL",
    "DATABASE_PASSWORD",
    "PGPASSWORD",
    "MYSQL_PWD",
    "MONGODB_URI",
    "REDIS_URL",
    "VAULT_TOKEN",
    "OP_SERVICE_ACCOUNT_TOKEN",
    "DOPPLER_TOKEN",
    "SENTRY_AUTH_TOKEN",
    "CODECOV_TOKEN",
    "TURBO_TOKEN",
    "CIRCLE_TOKEN",
    "DOCKERHUB_TOKEN",
    "DOCKER_PASSWORD",
]
PROVIDERS = [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "XAI_API_KEY",
    "GROQ_API_KEY",
    "MISTRAL_API_KEY",
    "TOGETHER_API_KEY",
    "CEREBRAS_API_KEY",
    "MOONSHOT_API_KEY",
    "MINIMAX_API_KEY",
    "NVIDIA_API_KEY",
    "HF_TOKEN",
    "VENICE_API_KEY",
    "TAVILY_API_KEY",
    "CODEX_API_KEY",
]
AWS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
KEPT = {
    "PATH": "/usr/local/bin:/usr/bin",
    "HOME": "/home/someone",
    "LANG": "C.UTF-8",
    "HTTPS_PROXY": "http://proxy.local:3128",
    "HTTP_PROXY": "http://proxy.local:3128",
    "NO_PROXY": "localhost",
    "AWS_REGION": "us-east-1",
    "AWS_PROFILE": "dev",
    "OLLAMA_BASE_URL": "http://127.0.0.1:11434",
    "TOKENIZERS_PARALLELISM": "false",
    "MY_APP_SETTING": "x",
    "CLAWBOO_HOME": "/tmp/clawboo",
    "BETTERAUTH": "no underscore, not the prefix",
    "XBETTER_AUTH_SECRET": "prefix must be at the start",
}


def test_exported_lists_match_the_contract():
    assert frozenset(CLAWBOO_OWN + OPERATOR) == SCRUBBED_NAMES
    assert frozenset(PROVIDERS) == PROVIDER_KEY_NAMES
    assert frozenset(AWS) == AWS_CREDENTIAL_NAMES
    assert isinstance(SCRUBBED_NAMES, frozenset)


@pytest.mark.parametrize("name", CLAWBOO_OWN + OPERATOR)
def test_scrubbed_names_are_dropped(name):
    env = build_child_env({name: "value", "PATH": "/bin"})
    assert env == {"PATH": "/bin"}


@pytest.mark.parametrize("name", PROVIDERS)
def test_provider_keys_are_dropped_unless_granted(name):
    assert build_child_env({name: "ambient", "PATH": "/bin"}) == {"PATH": "/bin"}
    granted = build_child_env({name: "ambient", "PATH": "/bin"}, {name: "granted"})
    assert granted == {"PATH": "/bin", name: "granted"}


@pytest.mark.parametrize(
    "name",
    [
        "github_token",
        "Github_Token",
        "clawboo_secrets_master_key",
        "openai_api_key",
        "aws_secret_access_key",
        "better_auth_secret",
    ],
)
def test_matching_is_on_the_upper_cased_name(name):
    assert build_child_env({name: "value"}) == {}


@pytest.mark.parametrize(
    "name", ["BETTER_AUTH", "BETTER_AUTH_SECRET", "BETTER_AUTH_URL", "BETTER_AUTHX"]
)
def test_better_auth_prefix_is_dropped(name):
    assert build_child_env({name: "value"}) == {}


def test_everything_else_is_kept_verbatim():
    assert build_child_env(dict(KEPT)) == KEPT


@pytest.mark.parametrize("flag", [None, "", "0", "false", "FALSE", "False", "  "])
def test_aws_credentials_dropped_without_bedrock(flag):
    base = {name: "aws-value" for name in AWS} | {"AWS_REGION": "us-east-1"}
    if flag is not None:
        base["CLAUDE_CODE_USE_BEDROCK"] = flag
    env = build_child_env(base)
    assert not set(AWS) & set(env)
    assert env["AWS_REGION"] == "us-east-1"


@pytest.mark.parametrize("flag", ["1", "true", "TRUE", "yes", "on", "anything"])
def test_aws_credentials_kept_with_bedrock(flag):
    base = {name: "aws-value" for name in AWS} | {"CLAUDE_CODE_USE_BEDROCK": flag}
    env = build_child_env(base)
    assert {name: env[name] for name in AWS} == {name: "aws-value" for name in AWS}
    assert env["CLAUDE_CODE_USE_BEDROCK"] == flag
    assert bedrock_enabled(base) is True


def test_bedrock_flag_in_grant_does_not_unlock_inherited_aws_credentials():
    base = {"AWS_SECRET_ACCESS_KEY": "aws-value"}
    env = build_child_env(base, {"CLAUDE_CODE_USE_BEDROCK": "1"})
    assert env == {"CLAUDE_CODE_USE_BEDROCK": "1"}


def test_grant_wins_even_for_scrubbed_names():
    base = {"GITHUB_TOKEN": "operator", "CLAWBOO_ACCESS_TOKEN": "host", "PATH": "/bin"}
    grant = {"GITHUB_TOKEN": "granted", "AWS_ACCESS_KEY_ID": "granted-aws", "PATH": "/opt/bin"}
    assert build_child_env(base, grant) == {
        "GITHUB_TOKEN": "granted",
        "AWS_ACCESS_KEY_ID": "granted-aws",
        "PATH": "/opt/bin",
    }


def test_only_granted_provider_key_reaches_the_child():
    base = {
        "ANTHROPIC_API_KEY": "ambient-anthropic",
        "OPENAI_API_KEY": "ambient-openai",
        "PATH": "/bin",
    }
    env = build_child_env(base, {"ANTHROPIC_API_KEY": "granted-anthropic"})
    assert env == {"ANTHROPIC_API_KEY": "granted-anthropic", "PATH": "/bin"}


def test_base_defaults_to_os_environ_and_is_not_mutated(monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "k" * 32)
    monkeypatch.setenv("OPENAI_API_KEY", "ambient")
    monkeypatch.setenv("CLAWBOO_TEST_MARKER", "kept")
    env = build_child_env()
    assert env["CLAWBOO_TEST_MARKER"] == "kept"
    assert "CLAWBOO_SECRETS_MASTER_KEY" not in env
    assert "OPENAI_API_KEY" not in env
    assert os.environ["CLAWBOO_SECRETS_MASTER_KEY"] == "k" * 32
    env["NEW"] = "x"
    assert "NEW" not in os.environ


def test_returns_a_fresh_dict_and_leaves_inputs_alone():
    base = {"PATH": "/bin", "GH_TOKEN": "x"}
    grant = {"ANTHROPIC_API_KEY": "g"}
    env = build_child_env(base, grant)
    assert base == {"PATH": "/bin", "GH_TOKEN": "x"}
    assert grant == {"ANTHROPIC_API_KEY": "g"}
    assert env is not base and env is not grant


def test_empty_base_and_empty_grant():
    assert build_child_env({}, {}) == {}
    assert build_child_env({}, None) == {}


def test_a_real_child_sees_only_the_scrubbed_env():
    base = dict(KEPT)
    base["PATH"] = os.environ.get("PATH", "/usr/bin")
    base |= {"GITHUB_TOKEN": "operator", "OPENAI_API_KEY": "ambient", "BETTER_AUTH_SECRET": "s"}
    env = build_child_env(base, {"ANTHROPIC_API_KEY": "granted"})
    out = subprocess.run(
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seen = json.loads(out)
    assert seen["ANTHROPIC_API_KEY"] == "granted"
    for name in ("GITHUB_TOKEN", "OPENAI_API_KEY", "BETTER_AUTH_SECRET"):
        assert name not in seen
    assert seen["HTTPS_PROXY"] == KEPT["HTTPS_PROXY"]
