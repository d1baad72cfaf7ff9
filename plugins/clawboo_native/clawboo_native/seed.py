"""Plan a first native team: a leader on a capable model and a cheaper specialist.

Which provider: the explicit one; else the recorded leader pick if its provider can run;
else the first connected provider in priority order; else Anthropic (so a user who connects
a key later needs no re-seed).
"""

from __future__ import annotations

import json
import uuid

from clawboo_host.plugin_api import SeedAgent, SeedPlan, SeedRequest

from .providers import KNOWN_PROVIDERS, PROVIDERS

LEADER_PICK_SETTING = "boo-zero:native-leader-model"

#: provider → (leader model, specialist model)
MODEL_DEFAULTS: dict[str, tuple[str, str]] = {
    "anthropic": ("claude-sonnet-4-6", "claude-haiku-4-5"),
    "openai": ("gpt-4o", "gpt-4o-mini"),
    "openrouter": ("anthropic/claude-haiku-4.5", "openai/gpt-4o-mini"),
    "ollama": ("llama3.2", "llama3.2"),
    "google": ("gemini-2.0-flash", "gemini-2.0-flash"),
    "xai": ("grok-2-latest", "grok-2-latest"),
    "groq": ("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
    "mistral": ("mistral-large-latest", "mistral-small-latest"),
    "together": (
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ),
    "cerebras": ("llama-3.3-70b", "llama-3.3-70b"),
    "moonshot": ("moonshot-v1-32k", "moonshot-v1-8k"),
}

LEADER_PROMPT = (
    "You lead this team. Understand what the user wants, break it into clear tasks on the "
    "board, delegate them to the right teammate, check their results, and report back "
    "concisely. Do small things yourself; ask when the goal is unclear."
)
SPECIALIST_PROMPT = (
    "You are the team's coder. Take one task at a time, make the smallest correct change, "
    "verify it, and report what you changed and how you checked it."
)
TOOLS = {"memory": True, "tools": True, "tasks": "read", "teamchat": True}


def env_var_for(provider: str) -> str:
    """The key slot of a provider; Ollama has none, so its marker is its base-URL variable."""
    return PROVIDERS[provider].env_var or "OLLAMA_BASE_URL"


def can_run(provider: str, request: SeedRequest) -> bool:
    if provider == "ollama":
        return True
    return request.has_key(PROVIDERS[provider].env_var)


def is_connected(provider: str, request: SeedRequest) -> bool:
    if provider == "ollama":
        return bool((request.env.get("OLLAMA_BASE_URL") or "").strip())
    return request.has_key(PROVIDERS[provider].env_var)


def _agent(name: str, slug: str, role: str, provider: str, model: str, prompt: str) -> SeedAgent:
    agent_id = f"native-{slug}-{uuid.uuid4().hex[:6]}"
    config = {
        "id": agent_id,
        "name": name,
        "primaryProvider": provider,
        "primaryModel": model,
        "envVar": env_var_for(provider),
        "systemPrompt": prompt,
        "tools": TOOLS,
        "participantKind": "agent",
        "budgetUsd": None,
        "maxTurns": 16,
        "fallbacks": [],
    }
    return SeedAgent(
        id=agent_id, name=name, role=role, provider=provider, model=model, config=config
    )


def plan_team(request: SeedRequest) -> SeedPlan:
    record = False
    recorded_model = None
    if request.provider:
        if request.provider not in PROVIDERS:
            return SeedPlan(error=f"unknown provider '{request.provider}'")
        provider = request.provider
        record = True
    else:
        pick = request.recorded_pick
        usable = pick is not None and pick[0].strip() in PROVIDERS and bool(pick[1].strip())
        if usable and can_run(pick[0].strip(), request):
            provider, recorded_model = pick[0].strip(), pick[1].strip()
        else:
            provider = next((p for p in KNOWN_PROVIDERS if is_connected(p, request)), "anthropic")
            record = not usable and can_run(provider, request)
    leader_default, specialist_model = MODEL_DEFAULTS[provider]
    leader_model = request.model or recorded_model or leader_default
    leader = _agent("Team Lead", "team-lead", "leader", provider, leader_model, LEADER_PROMPT)
    specialist = _agent(
        "Coder", "coder", "specialist", provider, specialist_model, SPECIALIST_PROMPT
    )
    settings = {
        "team-onboarding:{team_id}": json.dumps(
            {"agentsIntroduced": True, "userIntroduced": True, "userIntroText": ""}
        ),
        "team-server-orchestrated:{team_id}": "true",
    }
    for agent in (leader, specialist):
        settings[f"native-agent-config:{agent.id}"] = json.dumps(agent.config)
    if record:
        settings[LEADER_PICK_SETTING] = json.dumps({"provider": provider, "model": leader_model})
    return SeedPlan(team_name="My First Team", agents=(leader, specialist), settings=settings)
