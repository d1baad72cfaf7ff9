"""Install a runtime's CLI through its plugin, one install per runtime at a time.

The host owns what every install shares: the opening frame, the single-install lock, the
timeout (``CLAWBOO_INSTALL_TIMEOUT_S``, default 900 s), the "installed but not on PATH"
warning, and turning a plugin crash into an error frame. The plugin (or the default for its
install method) owns the package-manager dance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio

from .api.sse import Emit
from .errors import Conflict, InvalidRequest
from .plugin_api.binaries import resolve_binary
from .plugin_api.install import npm_install, pip_install
from .plugin_api.settings import positive_float
from .plugin_api.types import (
    InstallComplete,
    InstallContext,
    InstallError,
    InstallProgress,
    RuntimeDescriptor,
)
from .registry import RuntimeRegistry

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 900.0


def default_install(descriptor: RuntimeDescriptor, env: Mapping[str, str]):
    """Used when a plugin declares an install spec but no install hook."""
    spec = descriptor.install
    if spec.method == "npm":
        return npm_install(spec.package, env=env)
    return pip_install(
        spec.package, min_minor=spec.python_min_minor or 0, env=env, display_name=descriptor.name
    )


class Installer:
    def __init__(self, registry: RuntimeRegistry, env: Mapping[str, str]) -> None:
        self.registry = registry
        self.env = env
        self._running: set[str] = set()

    @property
    def timeout_s(self) -> float:
        return positive_float(self.env, "CLAWBOO_INSTALL_TIMEOUT_S", DEFAULT_TIMEOUT_S)

    def reserve(self, runtime_id: str) -> None:
        """Refuse before any stream opens: built-in runtimes and a second concurrent install."""
        descriptor = self.registry.descriptors[runtime_id]
        if descriptor.built_in:
            raise InvalidRequest(f"{descriptor.name} is built in — nothing to install")
        if runtime_id in self._running:
            raise Conflict(f"an install of '{runtime_id}' is already running")
        self._running.add(runtime_id)

    def release(self, runtime_id: str) -> None:
        self._running.discard(runtime_id)

    async def run(self, runtime_id: str, emit: Emit) -> None:
        """Stream one install's frames through ``emit``. Cancelling it kills the install."""
        descriptor = self.registry.descriptors[runtime_id]
        await emit(InstallProgress("installing", f"Installing {descriptor.name}…").to_json())
        ctx = InstallContext(descriptor=descriptor, env=self.env)
        events = None
        timeout = self.timeout_s
        try:
            # Inside the try: a hook that raises when called is a plugin crash like any other.
            events = self.registry.stream(runtime_id, "clawboo_runtime_install", ctx=ctx)
            if events is None:
                events = default_install(descriptor, self.env)
            with anyio.fail_after(timeout):
                async for event in events:
                    if isinstance(event, InstallComplete):
                        event = await self._check_binary(descriptor, event)
                    await emit(event.to_json())
        except TimeoutError:
            await emit(
                InstallError("TIMEOUT", f"Installation timed out after {timeout:g} s").to_json()
            )
        except Exception as exc:  # a plugin bug must end the stream, not hang it
            log.exception("install of %s failed", runtime_id)
            await emit(InstallError("SPAWN_THROW", str(exc) or type(exc).__name__).to_json())
        finally:
            aclose = getattr(events, "aclose", None)  # a plain iterable has nothing to close
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()

    async def _check_binary(
        self, descriptor: RuntimeDescriptor, event: InstallComplete
    ) -> InstallComplete:
        if event.warning or not descriptor.cli_binary:
            return event
        found = await anyio.to_thread.run_sync(resolve_binary, descriptor.cli_binary, self.env)
        if found:
            return event
        return InstallComplete(
            warning=(
                f"Installed, but '{descriptor.cli_binary}' isn't on PATH or the known "
                "user-install dirs yet. Restart the server if it stays missing."
            )
        )
