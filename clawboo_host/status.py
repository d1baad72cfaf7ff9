"""Each runtime's live status: installed?, healthy?, credentials?, and its connectionState.

Probes (binary lookup, vault reads, plugin health and auth hooks) run concurrently and
off the event loop. Binary lookups are never cached, so a CLI that appears on PATH shows
up on the next request; plugins cache their own slow probes (e.g. ``codex login status``).
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from .keys import KeyResolver
from .plugin_api.binaries import resolve_binary
from .plugin_api.types import AuthState, Health, RuntimeDescriptor, StatusProbe
from .registry import NOT_IMPLEMENTED, PluginFailure, RuntimeRegistry
from .vault import UNREADABLE_FLAGS_MESSAGE


def derive_connection_state(
    descriptor: RuntimeDescriptor, *, installed: bool, logged_in: bool, has_credential: bool
) -> str:
    """not-installed → (auth none) ready → (oauth) ready/needs-login →
    (api-key) ready/needs-auth."""
    if not installed:
        return "not-installed"
    if descriptor.auth_kind == "none":
        return "ready"
    if descriptor.auth_kind == "oauth":
        # a key the runtime can use instead of the login (e.g. codex's gateway) counts too
        return "ready" if logged_in or has_credential else "needs-login"
    return "ready" if has_credential else "needs-auth"


@dataclass
class RuntimeStatus:
    descriptor: RuntimeDescriptor
    bin_path: str | None
    health: Health
    auth: AuthState
    has_credential: bool
    has_vault_credential: bool

    @property
    def installed(self) -> bool:
        return self.descriptor.built_in or self.bin_path is not None

    @property
    def logged_in(self) -> bool:
        return self.descriptor.auth_kind == "oauth" and self.installed and self.auth.logged_in

    @property
    def codex_auth(self) -> bool:
        return self.installed and self.auth.external_credential

    @property
    def connection_state(self) -> str:
        return derive_connection_state(
            self.descriptor,
            installed=self.installed,
            logged_in=self.logged_in,
            has_credential=self.has_credential,
        )

    def to_json(self) -> dict:
        d = self.descriptor
        return {
            "id": d.id,
            "participantKind": d.participant_kind,
            "capabilities": d.capabilities.to_json(),
            "health": self.health.to_json(),
            "name": d.name,
            "installed": self.installed,
            "binPath": self.bin_path,
            "builtIn": d.built_in,
            "authKind": d.auth_kind,
            "envVar": d.env_var,
            "hasCredential": self.has_credential,
            "hasVaultCredential": self.has_vault_credential,
            "loggedIn": self.logged_in,
            "codexAuth": self.codex_auth,
            "installCommand": d.install_command,
            "docsUrl": d.docs_url,
            "connectionState": self.connection_state,
        }


class StatusService:
    """Computes :class:`RuntimeStatus` for one runtime or all of them."""

    def __init__(self, registry: RuntimeRegistry, keys: KeyResolver, env) -> None:
        self.registry = registry
        self.keys = keys
        self.env = env

    async def bin_path(self, descriptor: RuntimeDescriptor) -> str | None:
        if descriptor.built_in or not descriptor.cli_binary:
            return None
        return await anyio.to_thread.run_sync(resolve_binary, descriptor.cli_binary, self.env)

    def _probe(self, descriptor: RuntimeDescriptor, bin_path: str | None, fresh: bool):
        rid = descriptor.id
        return StatusProbe(
            runtime_id=rid,
            bin_path=bin_path,
            env=self.env,
            has_key=lambda name: self.keys.has_for_runtime(rid, name),
            fresh=fresh,
        )

    async def _health(self, descriptor: RuntimeDescriptor, probe: StatusProbe) -> Health:
        try:
            result = await self.registry.call(descriptor.id, "clawboo_runtime_health", probe=probe)
        except PluginFailure as failure:
            if failure.reason == "timed out":
                return Health(ok=False, message="health check timed out")
            return Health(ok=False, message=f"health check {failure.reason}")
        if result is NOT_IMPLEMENTED:
            if descriptor.built_in or probe.bin_path:
                return Health(ok=True)
            return Health(
                ok=False, message=f"{descriptor.cli_binary} not found on PATH or user-install dirs"
            )
        return result

    async def _auth(self, descriptor: RuntimeDescriptor, probe: StatusProbe) -> AuthState:
        try:
            result = await self.registry.call(
                descriptor.id, "clawboo_runtime_auth_state", probe=probe
            )
        except PluginFailure:  # a broken probe means "no extra credential", never a 500
            return AuthState()
        return AuthState() if result is NOT_IMPLEMENTED else result

    async def status(
        self, runtime_id: str, *, probe_auth: bool = True, fresh: bool = False
    ) -> RuntimeStatus:
        """One runtime's status. ``probe_auth=False`` skips the OAuth/auth-store probe."""
        descriptor = self.registry.descriptors[runtime_id]
        bin_path = await self.bin_path(descriptor)
        probe = self._probe(descriptor, bin_path, fresh)
        out: dict = {}

        async def health() -> None:
            out["health"] = await self._health(descriptor, probe)

        async def auth() -> None:
            out["auth"] = await self._auth(descriptor, probe) if probe_auth else AuthState()

        def keys() -> None:
            names = self.registry.key_names(runtime_id, self.env)
            out["has_credential"] = any(self.keys.has_for_runtime(runtime_id, n) for n in names)
            out["has_vault_credential"] = any(self.keys.has_in_vault(n) for n in names)
            out["flags_readable"] = self.keys.vault.disconnect_flags_readable()

        async with anyio.create_task_group() as tg:
            tg.start_soon(health)
            tg.start_soon(auth)
            tg.start_soon(anyio.to_thread.run_sync, keys)
        auth_state: AuthState = out["auth"]
        installed = descriptor.built_in or bin_path is not None
        health: Health = out["health"]
        if not out["flags_readable"]:  # keys fail closed; say why the runtime may lack one
            message = UNREADABLE_FLAGS_MESSAGE
            health = Health(
                ok=False, message=message if health.ok else f"{health.message}; {message}"
            )
        return RuntimeStatus(
            descriptor=descriptor,
            bin_path=bin_path,
            health=health,
            auth=auth_state,
            has_credential=out["has_credential"] or (installed and auth_state.external_credential),
            has_vault_credential=out["has_vault_credential"],
        )

    async def all(self) -> list[RuntimeStatus]:
        ids = self.registry.ids()
        results: dict[str, RuntimeStatus] = {}

        async def one(rid: str) -> None:
            results[rid] = await self.status(rid)

        async with anyio.create_task_group() as tg:
            for rid in ids:
                tg.start_soon(one, rid)
        return [results[rid] for rid in ids]
