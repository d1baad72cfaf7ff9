"""Where the host keeps its data and how it is bound, resolved once at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .plugin_api.files import private_dir
from .plugin_api.settings import positive_float

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18790
FALLBACK_PORTS = range(18790, 18810)  # 18790..18809 when the default port is busy


def resolve_data_dir(explicit: str | os.PathLike | None, env: Mapping[str, str]) -> Path:
    """``--data-dir``, else ``CLAWBOO_HOME``, else platformdirs' user data dir for clawboo."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    home = (env.get("CLAWBOO_HOME") or "").strip()
    if home:
        return Path(home).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("clawboo", appauthor=False))


def is_loopback(host: str) -> bool:
    """``localhost``, ``::1`` and 127.0.0.0/8 are loopback; anything else is exposed."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class HostConfig:
    """The running host's facts. ``port`` is the bound port once the server listens."""

    data_dir: Path
    bind_host: str = DEFAULT_HOST
    port: int | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    database_url_arg: str | None = None  # ``--database-url``; wins over the environment

    @property
    def home(self) -> Path:
        """The user's home as this host sees it (``HOME`` in its environment)."""
        return Path(self.env.get("HOME") or Path.home())

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "clawboo.db"

    @property
    def database_url(self) -> str:
        """``--database-url``, else ``CLAWBOO_DATABASE_URL``, else the SQLite file in the data
        dir. A ``postgresql://`` URL puts the board where several hosts can share it."""
        explicit = (self.database_url_arg or self.env.get("CLAWBOO_DATABASE_URL") or "").strip()
        return explicit or f"sqlite:///{self.db_path}"

    @property
    def lease_s(self) -> float:
        """How long this host's lease lasts without a heartbeat (``CLAWBOO_HOST_LEASE_S``)."""
        return self.env_float("CLAWBOO_HOST_LEASE_S", 30.0)

    @property
    def url(self) -> str | None:
        """Where other hosts and people reach this host (``CLAWBOO_HOST_URL``, else the bind)."""
        explicit = (self.env.get("CLAWBOO_HOST_URL") or "").strip()
        if explicit:
            return explicit
        if self.port is None:
            return None
        shown = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        return f"http://{shown}:{self.port}"

    @property
    def worktrees_dir(self) -> Path:
        return self.data_dir / "worktrees"

    @property
    def runtimes_dir(self) -> Path:
        return self.data_dir / "runtimes"

    @property
    def runs_dir(self) -> Path:
        """Per-run scratch dirs (``runs/<exec id>``), deleted when the run ends."""
        return self.data_dir / "runs"

    @property
    def port_file(self) -> Path:
        return self.data_dir / "api-port.txt"

    def ensure_dirs(self) -> None:
        """The data dir and the dirs runs work in are the user's alone (``0700``): worktrees
        hold the user's code, runtime homes hold CLI logins."""
        for path in (
            self.data_dir,
            self.worktrees_dir,
            self.runtimes_dir,
            self.runs_dir,
        ):
            private_dir(path)

    def env_flag(self, name: str) -> bool:
        """Boolean switches are on only for the exact value ``1``."""
        return self.env.get(name) == "1"

    def env_float(self, name: str, default: float) -> float:
        return positive_float(self.env, name, default)
