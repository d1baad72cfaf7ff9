"""Connect and disconnect: store a pasted key in the vault slot the runtime chooses.

The plugin decides *where* a key goes (:class:`ConnectPlan`); this module does the storing,
so a key only ever travels from the request body into the vault's ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio

from .errors import InvalidRequest, StorageBroken
from .keys import KeyResolver
from .plugin_api.types import (
    ConnectPlan,
    ConnectRequest,
    HealthcheckRequest,
    HealthcheckResult,
    RuntimeDescriptor,
)
from .registry import NOT_IMPLEMENTED, RuntimeRegistry
from .status import StatusService
from .vault import Vault, VaultError


def default_connect_plan(descriptor: RuntimeDescriptor) -> ConnectPlan:
    """OAuth → sign-in command; no auth → nothing to store; api-key → the primary slot."""
    if descriptor.auth_kind == "oauth":
        return ConnectPlan(login_command=f"{descriptor.cli_binary or descriptor.id} login")
    if descriptor.auth_kind == "none" or not descriptor.env_var:
        return ConnectPlan(slot=None)
    return ConnectPlan(slot=descriptor.env_var)


T = TypeVar("T")


async def _vault_call(fn: Callable[..., T], *args) -> T:
    """Run a vault write off the loop; a broken vault's message names no file path."""
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except VaultError as exc:
        raise StorageBroken(str(exc)) from None


class Credentials:
    def __init__(
        self, registry: RuntimeRegistry, vault: Vault, keys: KeyResolver, status: StatusService
    ) -> None:
        self.registry = registry
        self.vault = vault
        self.keys = keys
        self.status = status
        # One connect/disconnect mutates the vault at a time: slots are shared between
        # runtimes, and "store key, clear flag" must not interleave with "wipe, set flag".
        self._lock = anyio.Lock()

    async def connect(self, runtime_id: str, api_key: str, provider: str) -> dict:
        descriptor = self.registry.descriptors[runtime_id]
        request = ConnectRequest(provider=provider, has_api_key=bool(api_key), env=self.status.env)
        # A failing hook raises PluginFailure (502): a key is never stored in a guessed slot.
        plan = await self.registry.call(runtime_id, "clawboo_runtime_connect", request=request)
        if plan is NOT_IMPLEMENTED:
            plan = default_connect_plan(descriptor)
        if plan.error:
            raise InvalidRequest(plan.error)

        if plan.login_command:
            async with self._lock:
                await self._clear_flag(runtime_id)
            state = await self.status.status(runtime_id, fresh=False)
            return {
                "ok": True,
                "connectionState": state.connection_state,
                "loginCommand": plan.login_command,
            }

        async with self._lock:
            if plan.slot is not None:
                if api_key:
                    await _vault_call(self.vault.set, plan.slot, api_key)
                elif not (
                    plan.reuse_existing
                    and provider
                    and await anyio.to_thread.run_sync(self.keys.resolve, plan.slot)
                ):
                    if provider:
                        raise InvalidRequest(
                            f"no existing key found for {provider} — paste one to connect"
                        )
                    raise InvalidRequest("apiKey is required")
            await self._clear_flag(runtime_id)
        state = await self.status.status(runtime_id, probe_auth=False)
        return {"ok": True, "connectionState": state.connection_state}

    async def disconnect(self, runtime_id: str) -> dict:
        """Delete every slot the runtime draws on and make it vault-only until reconnected."""
        descriptor = self.registry.descriptors[runtime_id]

        def wipe() -> None:
            for name in self.registry.key_names(runtime_id, self.status.env):
                self.vault.delete(name)
            self._set_flag(runtime_id, True)

        async with self._lock:
            await _vault_call(wipe)
        # Like the reference, an OAuth login is not re-probed here (codex reports needs-login),
        # but a runtime's own credential store still counts (Hermes's ChatGPT login).
        state = await self.status.status(runtime_id, probe_auth=descriptor.auth_kind != "oauth")
        return {"ok": True, "connectionState": state.connection_state}

    async def healthcheck(self, runtime_id: str, provider: str, api_key: str) -> HealthcheckResult:
        """Verify a key with the runtime's own check; nothing is stored or flagged."""
        request = HealthcheckRequest(
            provider=provider,
            api_key=api_key,
            stored_key=self.keys.resolve,
            env=self.status.env,
        )
        result = await self.registry.call(
            runtime_id, "clawboo_runtime_healthcheck", request=request
        )
        if result is NOT_IMPLEMENTED:
            return HealthcheckResult(
                ok=False,
                error="healthcheck is only supported for the native runtime",
                status_code=400,
            )
        return result

    def _set_flag(self, runtime_id: str, flag: bool) -> None:
        # If the flags file is unreadable, every other runtime stays disconnected.
        self.vault.set_disconnected(runtime_id, flag, fail_closed_ids=self.registry.ids())

    async def _clear_flag(self, runtime_id: str) -> None:
        await _vault_call(self._set_flag, runtime_id, False)
