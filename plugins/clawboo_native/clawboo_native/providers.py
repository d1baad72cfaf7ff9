"""The LLM providers the native runtime can call: ids, key slots, endpoints.

Every base URL can be overridden with ``<PROVIDER>_BASE_URL`` (e.g. ``ANTHROPIC_BASE_URL``,
``OPENAI_BASE_URL``, ``OPENROUTER_BASE_URL``, ``OLLAMA_BASE_URL``) for proxies, gateways and
tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: In priority order (first connected wins when nothing else decides).
KNOWN_PROVIDERS = (
    "anthropic",
    "openai",
    "openrouter",
    "ollama",
    "google",
    "xai",
    "groq",
    "mistral",
    "together",
    "cerebras",
    "moonshot",
)


@dataclass(frozen=True)
class Provider:
    id: str
    env_var: str | None  # None: keyless (Ollama)
    default_base_url: str
    wire: str  # "anthropic" | "openai" | "ollama"

    def base_url(self, env: Mapping[str, str]) -> str:
        override = (env.get(f"{self.id.upper()}_BASE_URL") or "").strip()
        return (override or self.default_base_url).rstrip("/")

    def models_url(self, env: Mapping[str, str]) -> str:
        """The endpoint a key check GETs."""
        base = self.base_url(env)
        if self.wire == "anthropic":
            return f"{base.removesuffix('/v1')}/v1/models"
        if self.wire == "ollama":
            return f"{base.removesuffix('/v1')}/api/tags"
        return f"{base}/models"


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider("anthropic", "ANTHROPIC_API_KEY", "https://api.anthropic.com", "anthropic"),
        Provider("openai", "OPENAI_API_KEY", "https://api.openai.com/v1", "openai"),
        Provider("openrouter", "OPENROUTER_API_KEY", "https://openrouter.ai/api/v1", "openai"),
        Provider("ollama", None, "http://localhost:11434/v1", "ollama"),
        Provider(
            "google",
            "GEMINI_API_KEY",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "openai",
        ),
        Provider("xai", "XAI_API_KEY", "https://api.x.ai/v1", "openai"),
        Provider("groq", "GROQ_API_KEY", "https://api.groq.com/openai/v1", "openai"),
        Provider("mistral", "MISTRAL_API_KEY", "https://api.mistral.ai/v1", "openai"),
        Provider("together", "TOGETHER_API_KEY", "https://api.together.xyz/v1", "openai"),
        Provider("cerebras", "CEREBRAS_API_KEY", "https://api.cerebras.ai/v1", "openai"),
        Provider("moonshot", "MOONSHOT_API_KEY", "https://api.moonshot.ai/v1", "openai"),
    )
}

#: Every provider key slot, in provider priority order (Anthropic first).
PROVIDER_ENV_VARS = tuple(p.env_var for p in PROVIDERS.values() if p.env_var)

#: What a run or the health check says when nothing is connected.
NO_KEY_MESSAGE = (
    "no provider key connected (" + " or ".join(PROVIDER_ENV_VARS) + ", or set OLLAMA_BASE_URL)"
)
