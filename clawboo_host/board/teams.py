"""Teams, their agents, and the settings table (onboarding writes all three at once)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from .common import Part, new_id, now_iso
from .database import first, rows
from .schema import agents as agents_table
from .schema import settings as settings_table
from .schema import teams


class TeamStore(Part):
    def list_teams(self) -> list[dict]:
        return self.db.all(
            select(teams).order_by(teams.c.created_at, self.db.insertion_order(teams))
        )

    def get_team(self, team_id: str) -> dict | None:
        return self.db.one(select(teams).where(teams.c.id == team_id))

    def agents_query(self, team_id: str | None = None):
        statement = select(agents_table)
        if team_id is not None:
            statement = statement.where(agents_table.c.team_id == team_id)
        return statement.order_by(agents_table.c.created_at, self.db.insertion_order(agents_table))

    def list_agents(self, team_id: str | None = None) -> list[dict]:
        return self.db.all(self.agents_query(team_id))

    def get_agent(self, agent_id: str) -> dict | None:
        return self.db.one(select(agents_table).where(agents_table.c.id == agent_id))

    def team_detail(self, team_id: str) -> dict | None:
        """``{team, agents}`` from one read snapshot, or None."""

        def read(conn: Connection) -> dict | None:
            team = first(conn, select(teams).where(teams.c.id == team_id))
            if team is None:
                return None
            return {"team": team, "agents": rows(conn, self.agents_query(team_id))}

        return self.db.read(read)

    # --- settings -----------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = self.db.one(select(settings_table.c.value).where(settings_table.c.key == key))
        return row["value"] if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        self.db.write(lambda conn: self._upsert_setting(conn, key, value, now_iso()))

    def _upsert_setting(self, conn: Connection, key: str, value: str | None, ts: str) -> None:
        statement = self.db.insert(settings_table).values(key=key, value=value, updated_at=ts)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "value": statement.excluded.value,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    # --- onboarding ---------------------------------------------------------------------------

    def seed_team(
        self, team_name: str, agents: Sequence[dict], settings: dict[str, str] | None = None
    ) -> dict:
        """Write a team, its agents, its leader and the given settings in ONE transaction.

        ``agents``: dicts with ``id`` (generated when missing), ``name``, ``runtime``,
        ``role``, ``provider``, ``model`` and ``config`` (a dict, stored as JSON, or a JSON
        string). The leader is the first agent whose role is ``leader``. ``{team_id}`` in a
        setting key is replaced with the new team id. Any failure (e.g. a duplicate agent id)
        rolls everything back and re-raises. Returns ``{team_id, leader_agent_id, agent_ids}``.
        """
        team_id = new_id()
        prepared: list[dict] = []
        for agent in agents:
            config = agent.get("config")
            prepared.append(
                {
                    "id": agent.get("id") or new_id(),
                    "name": agent.get("name") or "",
                    "runtime": agent.get("runtime"),
                    "role": agent.get("role"),
                    "provider": agent.get("provider"),
                    "model": agent.get("model"),
                    "config_json": (
                        config if isinstance(config, str) or config is None else json.dumps(config)
                    ),
                }
            )
        leader = next((p["id"] for p in prepared if p["role"] == "leader"), None)

        def write(conn: Connection) -> dict:
            ts = now_iso()
            conn.execute(
                insert(teams).values(
                    id=team_id, name=team_name, leader_agent_id=None, created_at=ts, updated_at=ts
                )
            )
            for agent in prepared:
                conn.execute(insert(agents_table).values(team_id=team_id, created_at=ts, **agent))
            if leader is not None:
                conn.execute(
                    update(teams)
                    .where(teams.c.id == team_id)
                    .values(leader_agent_id=leader, updated_at=ts)
                )
            for key, value in (settings or {}).items():
                self._upsert_setting(conn, key.replace("{team_id}", team_id), value, ts)
            return {
                "team_id": team_id,
                "leader_agent_id": leader,
                "agent_ids": [p["id"] for p in prepared],
            }

        return self.db.write(write)
