"""The host's long-lived services, built once per app and shared by every router."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .board.store import BoardStore
from .config import HostConfig
from .credentials import Credentials
from .installer import Installer
from .isolation import detect_sandbox
from .keys import KeyResolver
from .onboarding import Onboarding
from .registry import RuntimeRegistry, build_registry
from .run import Executor
from .run_tokens import RunTokens
from .status import StatusService
from .vault import Vault

log = logging.getLogger(__name__)


class Host:
    """Owns the registry, vault, key chain, status probes, board, installs and runs."""

    RECOVERY_INTERVAL_S = 60.0
    SHUTDOWN_GRACE_S = 15.0

    def __init__(self, config: HostConfig, registry: RuntimeRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else build_registry(env=config.env)
        self.vault = Vault(config.secrets_dir, env=config.env)
        self.keys = KeyResolver(self.vault, env=config.env, home=config.home)
        self.status = StatusService(self.registry, self.keys, config.env)
        self.credentials = Credentials(self.registry, self.vault, self.keys, self.status)
        self.board = BoardStore(config.db_path)
        self.installer = Installer(self.registry, config.env)
        self.run_tokens = RunTokens()
        self.executor = Executor(config, self.registry, self.board, self.keys, self.run_tokens)
        self.onboarding = Onboarding(self.registry, self.board, self.keys, config.env)
        self._recovery: asyncio.Task | None = None

    async def start(self) -> None:
        self.config.ensure_dirs()
        self.board.open()
        self.executor.sandbox = await detect_sandbox(self.config)
        await self.executor.recover()
        self._recovery = asyncio.create_task(self._recover_periodically())

    async def stop(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        # Runs kill their process trees and report up before the board closes under them.
        await self.executor.shutdown(timeout=self.SHUTDOWN_GRACE_S)
        self.board.close()

    async def _recover_periodically(self) -> None:
        """Executions left running by a host process that died are closed every minute."""
        while True:
            await asyncio.sleep(self.RECOVERY_INTERVAL_S)
            try:
                await self.executor.recover()
            except Exception:
                log.exception("recovery sweep failed")
