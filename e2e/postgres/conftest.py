"""Fixtures for the PostgreSQL suite: real ``clawboo-host serve`` processes on one database.

The session's PostgreSQL server (``postgres_cluster``) and one database per test
(``pg_url``) come from :mod:`clawboo_host.testing.postgres`; ``two_hosts`` starts two hosts,
each with its own data dir, vault and worktrees, on that database.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from clawboo_host.testing.server import ServedProcess, serve_process

LEASE_S = "4"  # short, so a killed host's lease runs out soon; long enough for a loaded machine


@pytest.fixture
def pg_url(postgres_cluster) -> str:
    return postgres_cluster.create_database()


@pytest.fixture
def host_env(clawboo_env, pg_url) -> dict[str, str]:
    return dict(
        clawboo_env,
        CLAWBOO_ENABLE_MOCK_RUNTIME="1",
        CLAWBOO_DATABASE_URL=pg_url,
        CLAWBOO_HOST_LEASE_S=LEASE_S,
        CLAWBOO_ABORT_POLL_S="0.2",
    )


@pytest.fixture
def start_host(host_env, tmp_path: Path):
    """``start_host(name)`` → a :class:`ServedProcess` with its own data dir on the shared DB."""
    with ExitStack() as stack:

        def start(name: str, **env) -> ServedProcess:
            data = tmp_path / f"host-{name}"
            data.mkdir()
            use_env = dict(host_env, CLAWBOO_HOST_NAME=name, **env)
            return stack.enter_context(
                serve_process(
                    ["--port", "0", "--data-dir", str(data)],
                    use_env,
                    data,
                    log=tmp_path / f"host-{name}.log",
                )
            )

        yield start


@pytest.fixture
def two_hosts(start_host) -> tuple[ServedProcess, ServedProcess]:
    return start_host("alpha"), start_host("beta")
