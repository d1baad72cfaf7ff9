"""Fixtures for testing clawboo-host and runtime plugins (auto-loaded by pytest).

- ``clawboo_env``: an isolated environment (own HOME, data dir, OpenClaw and Hermes dirs,
  a PATH holding only the fake-executable dir and the Python interpreter's dir, no
  provider keys). Mutate it before building the host.
- ``fake_executables``: :class:`~clawboo_host.testing.fakes.FakeExecutables` on that PATH.
- ``clawboo_host_factory``: ``factory(plugins=None, env=None)`` starts a host on a real
  loopback port and returns a :class:`~clawboo_host.testing.server.LiveServer`; ``plugins``
  is a list of ``(runtime_id, module)`` (default: the installed entry points).
- ``clawboo_client``: an ``httpx.Client`` for a host with the installed plugins.
- ``git_repo``: a real git repository with one commit, to run tasks in.
- ``board_url``: a fresh, empty board database for the test, once per backend in
  ``CLAWBOO_TEST_BACKENDS`` (default ``sqlite``; ``sqlite,postgres`` adds a run on a real
  PostgreSQL the session starts — see :mod:`clawboo_host.testing.postgres`).
- ``postgres_cluster``: that session's PostgreSQL server.

Helpers for driving a host (tasks, connect, runs, SSE frames) are in
:mod:`clawboo_host.testing.helpers`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "clawboo_plugins(*modules): plugins for the host fixture")


def board_backends() -> list[str]:
    """The backends ``board_url`` runs each test on (``CLAWBOO_TEST_BACKENDS``)."""
    raw = os.environ.get("CLAWBOO_TEST_BACKENDS", "sqlite")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = set(names) - {"sqlite", "postgres"}
    if unknown or not names:
        raise pytest.UsageError(f"CLAWBOO_TEST_BACKENDS: unknown backend(s) {sorted(unknown)}")
    return names


def pytest_generate_tests(metafunc) -> None:
    if "board_backend" in metafunc.fixturenames:
        metafunc.parametrize("board_backend", board_backends(), scope="function")


@pytest.fixture(scope="session")
def postgres_cluster():
    from .postgres import PostgresCluster

    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def board_url(board_backend: str, tmp_path: Path, request) -> str:
    """A URL for an empty board database on ``board_backend``."""
    if board_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'clawboo.db'}"
    return request.getfixturevalue("postgres_cluster").create_database()


@pytest.fixture
def clawboo_data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "clawboo-data"
    path.mkdir()
    return path


@pytest.fixture
def fake_executables(tmp_path: Path):
    from .fakes import FakeExecutables

    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    return FakeExecutables(bin_dir)


@pytest.fixture
def clawboo_env(tmp_path: Path, clawboo_data_dir: Path, fake_executables) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = fake_executables.path_env()
    env.update(
        {
            "HOME": str(home),
            "CLAWBOO_HOME": str(clawboo_data_dir),
            "OPENCLAW_STATE_DIR": str(tmp_path / "openclaw"),
            "HERMES_HOME": str(tmp_path / "hermes-home"),
            "CODEX_HOME": str(tmp_path / "codex-home"),
            "NPM_CONFIG_PREFIX": str(tmp_path / "npm-prefix"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
    )
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


@pytest.fixture
def clawboo_host_factory(clawboo_env, clawboo_data_dir):
    from ..app import create_app
    from ..config import HostConfig
    from ..registry import build_registry
    from .server import LiveServer

    servers: list[LiveServer] = []

    def factory(plugins=None, env=None, data_dir=None, wait_for_board=True) -> LiveServer:
        use_env = dict(env if env is not None else clawboo_env)

        def build(port: int):
            config = HostConfig(data_dir=Path(data_dir or clawboo_data_dir), port=port, env=use_env)
            registry = build_registry(env=use_env, plugins=plugins)
            return create_app(config, registry)

        server = LiveServer(build, wait_for_board=wait_for_board)
        server.__enter__()
        servers.append(server)
        return server

    yield factory
    for server in reversed(servers):
        server.__exit__(None, None, None)


@pytest.fixture
def clawboo_client(clawboo_host_factory):
    server = clawboo_host_factory()
    with server.client() as client:
        yield client


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    from .helpers import make_git_repo

    return make_git_repo(tmp_path / "repo")
