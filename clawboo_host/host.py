"""The host's long-lived services, built once per app and shared by every router."""

from __future__ import annotations

import logging

from .board.calls import board_call
from .board.store import BoardStore
from .config import HostConfig
from .credentials import Credentials
from .installer import Installer
from .isolation import detect_sandbox
from .keys import KeyResolver
from .lease import HostLease
from .onboarding import Onboarding
from .registry import RuntimeRegistry, build_registry
from .run import Executor
from .run_tokens import RunTokens
from .status import StatusService
from .status_snapshot import StatusSnapshot
from .vault import Vault

log = logging.getLogger(__name__)


class Host:
    """Owns the registry, vault, key chain, status probes, board, installs and runs."""

    SHUTDOWN_GRACE_S = 15.0

    def __init__(self, config: HostConfig, registry: RuntimeRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else build_registry(env=config.env)
        self.vault = Vault(config.secrets_dir, env=config.env)
        self.keys = KeyResolver(self.vault, env=config.env, home=config.home)
        self.status = StatusService(self.registry, self.keys, config.env)
        self.status_snapshot = StatusSnapshot(self.status, self.keys, config.env, self._list_json)
        self.credentials = Credentials(self.registry, self.vault, self.keys, self.status)
        self.board = BoardStore(config.database_url)
        self.installer = Installer(self.registry, config.env)
        self.run_tokens = RunTokens()
        self.executor = Executor(config, self.registry, self.board, self.keys, self.run_tokens)
        self.onboarding = Onboarding(self.registry, self.board, self.keys, config.env)
        self.lease = HostLease(config, self.board, self.executor)

    def _list_json(self, rows) -> dict:
        """The ``GET /api/runtimes`` body for these status rows."""
        return {
            "runtimes": [row.to_json() for row in rows],
            "available": [d.public_json() for d in self.registry.public_catalog()],
        }

    async def start(self) -> None:
        self.config.ensure_dirs()
        await board_call(self.board.open)
        self.executor.sandbox = await detect_sandbox(self.config)
        # The lease first: the sweep then knows which runs are this host's own.
        await self.lease.start()
        await self.executor.recover(judge_leases=self.lease.may_judge_leases)

    async def stop(self) -> None:
        await self.lease.stop()
        # Runs kill their process trees and report up before the board closes under them.
        await self.executor.shutdown(timeout=self.SHUTDOWN_GRACE_S)
        await self.lease.release()
        await self.status_snapshot.aclose()
        self.board.close()
