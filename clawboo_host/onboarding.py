"""Seed a first team through the runtime plugin that plans one, written in one transaction."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .board.calls import board_call
from .errors import InvalidRequest, NotFound
from .keys import KeyResolver
from .plugin_api.types import SeedPlan, SeedRequest
from .registry import RuntimeRegistry

if TYPE_CHECKING:
    from .board.store import BoardStore


SEED_HOOK = "clawboo_seed_team"
LEADER_PICK_SETTING = "boo-zero:native-leader-model"


def parse_pick(raw: str | None) -> tuple[str, str] | None:
    """The recorded leader pick ``{"provider", "model"}``; anything else reads as absent."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    provider, model = data.get("provider"), data.get("model")
    if isinstance(provider, str) and isinstance(model, str):
        return provider, model
    return None


class Onboarding:
    def __init__(
        self, registry: RuntimeRegistry, board: BoardStore, keys: KeyResolver, env
    ) -> None:
        self.registry = registry
        self.board = board
        self.keys = keys
        self.env = env

    async def seed_team(self, provider: str, model: str) -> dict:
        seeders = self.registry.ids_implementing(SEED_HOOK)
        if not seeders:
            raise NotFound("no installed runtime can seed a team")
        runtime_id = seeders[0]
        recorded = await board_call(self.board.get_setting, LEADER_PICK_SETTING)
        request = SeedRequest(
            provider=provider,
            model=model,
            recorded_pick=parse_pick(recorded),
            has_key=lambda name: self.keys.has_for_runtime(runtime_id, name),
            env=self.env,
        )
        # A failing hook raises PluginFailure (502); the registry checked the plan's type.
        plan: SeedPlan = await self.registry.call(runtime_id, SEED_HOOK, request=request)
        if plan.error:
            raise InvalidRequest(plan.error)
        agents = [
            {
                "id": a.id,
                "name": a.name,
                "runtime": runtime_id,
                "role": a.role,
                "provider": a.provider,
                "model": a.model,
                "config": a.config,
            }
            for a in plan.agents
        ]
        created = await board_call(
            self.board.seed_team, plan.team_name, agents, dict(plan.settings)
        )
        ids = created["agent_ids"]
        specialist = next((a.id for a in plan.agents if a.role == "specialist"), None)
        return {
            "teamId": created["team_id"],
            "leaderAgentId": created["leader_agent_id"],
            "specialistAgentId": specialist if specialist in ids else None,
        }
