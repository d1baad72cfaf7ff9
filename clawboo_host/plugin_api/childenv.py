"""The environment every spawned runtime gets: the server's, scrubbed, plus its granted keys.

A coding agent runs arbitrary shell commands, so anything in its environment may end up in a
transcript, a commit or a prompt-injected ``curl``. We therefore drop (api-contract §5.5):

* clawboo's own secrets (the vault master key, access tokens, any ``BETTER_AUTH*``);
* well-known operator secrets (VCS, registries, cloud, payments, databases, CI, …);
* AWS credentials, unless Claude Code is told to use Bedrock (then it needs them);
* **every provider key** — stricter than the reference, which passes them through: a runtime
  sees only the provider keys it was granted (``grant``), so an ``OPENAI_API_KEY`` exported in
  the operator's shell never leaks into, say, a Claude Code run.

Matching is on the upper-cased name, so ``github_token`` is dropped like ``GITHUB_TOKEN``.
``grant`` is merged last and always wins, even over a scrubbed name. ``secret_names`` adds
names to drop: the host passes every key name any registered runtime declares, so a
third-party runtime's ``ACME_API_KEY`` is as secret as a built-in one. Everything else (PATH,
HOME, proxies, locale, ``AWS_REGION``) passes through untouched.

This module is part of the plugin API and imports nothing else from ``clawboo_host``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

__all__ = [
    "AWS_CREDENTIAL_NAMES",
    "PROVIDER_KEY_NAMES",
    "SCRUBBED_NAMES",
    "SCRUBBED_PREFIXES",
    "bedrock_enabled",
    "build_child_env",
    "is_scrubbed",
]

#: clawboo's own secrets: never hand a child the keys to the host itself.
_CLAWBOO_SECRETS = frozenset(
    {
        "CLAWBOO_SECRETS_MASTER_KEY",
        "CLAWBOO_ACCESS_TOKEN",
        # The board's database URL may carry its password: an agent never gets the board's
        # keys (it reaches the board only through its run's MCP tools).
        "CLAWBOO_DATABASE_URL",
        "STUDIO_ACCESS_TOKEN",
        "GATEWAY_AUTH_TOKEN",
    }
)

#: Operator secrets the agent has no business seeing (api-contract §5.5, verbatim).
_OPERATOR_SECRETS = frozenset(
    {
        # VCS
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_PAT",
        "GITLAB_TOKEN",
        "GITLAB_PERSONAL_ACCESS_TOKEN",
        "BITBUCKET_TOKEN",
        # registries
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "PYPI_TOKEN",
        "TWINE_PASSWORD",
        "CARGO_REGISTRY_TOKEN",
        # cloud
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
        # payments / comms
        "STRIPE_SECRET_KEY",
        "STRIPE_API_KEY",
        "TWILIO_AUTH_TOKEN",
        "SENDGRID_API_KEY",
        "MAILGUN_API_KEY",
        "SLACK_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        # databases
        "DATABASE_URL",
        "DATABASE_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PWD",
        "MONGODB_URI",
        "REDIS_URL",
        # secret managers and CI
        "VAULT_TOKEN",
        "OP_SERVICE_ACCOUNT_TOKEN",
        "DOPPLER_TOKEN",
        "SENTRY_AUTH_TOKEN",
        "CODECOV_TOKEN",
        "TURBO_TOKEN",
        "CIRCLE_TOKEN",
        # container registries
        "DOCKERHUB_TOKEN",
        "DOCKER_PASSWORD",
    }
)

#: Names always dropped (exact, upper-cased match); see also ``SCRUBBED_PREFIXES``.
SCRUBBED_NAMES: frozenset[str] = _CLAWBOO_SECRETS | _OPERATOR_SECRETS

#: Any name starting with one of these is dropped (auth-library secrets).
SCRUBBED_PREFIXES: tuple[str, ...] = ("BETTER_AUTH",)

#: Dropped unless ``CLAUDE_CODE_USE_BEDROCK`` is truthy in the base environment.
AWS_CREDENTIAL_NAMES: frozenset[str] = frozenset(
    {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
)

#: Provider keys: dropped from the inherited env; a runtime gets only what it is granted.
PROVIDER_KEY_NAMES: frozenset[str] = frozenset(
    {
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
    }
)


def bedrock_enabled(env: Mapping[str, str]) -> bool:
    """``CLAUDE_CODE_USE_BEDROCK`` is truthy: non-empty and not ``0``/``false`` (any case)."""
    value = (env.get("CLAUDE_CODE_USE_BEDROCK") or "").strip().lower()
    return value not in ("", "0", "false")


def is_scrubbed(
    name: str, *, bedrock: bool = False, secret_names: frozenset[str] = frozenset()
) -> bool:
    """Whether ``name`` is withheld from an inherited child environment (``secret_names``:
    extra names to withhold, upper-cased)."""
    upper = name.upper()
    if upper in SCRUBBED_NAMES or upper in PROVIDER_KEY_NAMES or upper in secret_names:
        return True
    if upper.startswith(SCRUBBED_PREFIXES):
        return True
    return upper in AWS_CREDENTIAL_NAMES and not bedrock


def build_child_env(
    base: Mapping[str, str] | None = None,
    grant: Mapping[str, str] | None = None,
    *,
    secret_names: Iterable[str] = (),
) -> dict[str, str]:
    """A fresh env dict for a child process: ``base`` (default ``os.environ``) scrubbed (also
    of ``secret_names``), then ``grant`` merged last (a grant always wins, even for a
    scrubbed name).
    """
    source = os.environ if base is None else base
    bedrock = bedrock_enabled(source)
    extra = frozenset(name.upper() for name in secret_names)
    env = {
        k: v for k, v in source.items() if not is_scrubbed(k, bedrock=bedrock, secret_names=extra)
    }
    if grant:
        env.update(grant)
    return env
