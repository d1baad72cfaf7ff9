"""The host's long-lived services, built once per app and shared by every router."""

from __future__ import annotations

import logging

from .board.store import BoardStore
from .config import HostConfig
from .credentials import Credentials
from .installer import Installer
from .keys import KeyResolver
from .registry import RuntimeRegistry, build_registry
from .status import StatusService
from .vault import Vault

log = logging.getLogger(__name__)


class Host:
    """Owns the registry, vault, key chain and status probes (and, later, board and runs)."""

    def __init__(self, config: HostConfig, registry: RuntimeRegistry | None = None) -> None:
        self.config = config
        self.registry = registry if registry is not None else build_registry(env=config.env)
        self.vault = Vault(config.secrets_dir, env=config.env)
        self.keys = KeyResolver(self.vault, env=config.env, home=config.home)
        self.status = StatusService(self.registry, self.keys, config.env)
        self.credentials = Credentials(self.registry, self.vault, self.keys, self.status)
        self.board = BoardStore(config.db_path)
        self.installer = Installer(self.registry, config.env)

    async def start(self) -> None:
        self.config.ensure_dirs()
        self.board.open()

    async def stop(self) -> None:
        self.board.close()
