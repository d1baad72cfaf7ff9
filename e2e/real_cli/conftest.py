"""The real CLIs, set up the way a user with a model gateway sets them up, behind a real host.

One ``clawboo-host serve`` process for the module, started as a user would start it, with:

- a ``HOME`` holding the user's own CLI config: ``~/.codex/config.toml`` selecting a custom
  model provider (``wire_api = "responses"``, ``env_key = "GATEWAY_KEY"``) and
  ``~/.hermes/config.yaml`` + ``.env`` selecting a custom OpenAI-compatible ``base_url``,
  all pointing at the scripted model on loopback;
- the exports such a user has: ``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_AUTH_TOKEN`` (Claude
  Code through a gateway), ``GATEWAY_KEY`` (Codex's provider key), ``GEMINI_API_KEY`` +
  ``GOOGLE_GEMINI_BASE_URL`` (Gemini CLI);
- ``PATH`` = the cache's ``bin`` (the pinned real CLIs, installed by
  ``scripts/test-real-clis``) + the system's.

The CLI cache is ``$CLAWBOO_CLI_CACHE``; without it the suite fails with how to run it.
With ``$CLAWBOO_CAPTURE_DIR`` set, every CLI run is also recorded there as a replay
transcript (see :mod:`capture`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from capture import capture_dir, wrap  # noqa: E402
from scripted_model import ScriptedModel  # noqa: E402

from clawboo_host.testing.helpers import make_git_repo  # noqa: E402
from clawboo_host.testing.server import server_process  # noqa: E402

GATEWAY_KEY = "gw-user-gateway-key-0001"
CLAUDE_GATEWAY_TOKEN = "gw-claude-gateway-token-0002"
HERMES_DOTENV_KEY = "gw-hermes-dotenv-key-0003"
GEMINI_KEY = "gw-gemini-key-0004"


def _cli_bin() -> Path:
    cache = os.environ.get("CLAWBOO_CLI_CACHE")
    if not cache or not (Path(cache) / "bin").is_dir():
        pytest.fail(
            "the real CLIs are not installed: run ./scripts/test-real-clis "
            "(it installs them into $CLAWBOO_CLI_CACHE first)",
            pytrace=False,
        )
    return Path(cache) / "bin"


@pytest.fixture(scope="session")
def cli_bin() -> Path:
    return _cli_bin()


@pytest.fixture(scope="session")
def model():
    scripted = ScriptedModel().start()
    yield scripted
    scripted.stop()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    return path


@pytest.fixture(scope="session")
def user_home(tmp_path_factory, model) -> Path:
    """A user's HOME with their own codex and hermes setup (files dated 2020, to see any write)."""
    home = tmp_path_factory.mktemp("user-home")
    _write(
        home / ".codex" / "config.toml",
        f"""\
# my company's gateway
model = "scripted-model"
model_provider = "gateway"

[model_providers.gateway]
name = "Company gateway"
base_url = "{model.base_url}/v1"
env_key = "GATEWAY_KEY"
wire_api = "responses"

[mcp_servers.my-own-server]
command = "/nonexistent/my-mcp-server"
""",
    )
    _write(
        home / ".hermes" / "config.yaml",
        f"""\
# my gateway
model:
  provider: custom
  base_url: {model.base_url}/v1
  default: scripted-model
mcp_servers:
  my-own-server:
    command: /nonexistent/my-mcp-server
""",
    )
    _write(home / ".hermes" / ".env", f"OPENAI_API_KEY={HERMES_DOTENV_KEY}\n")
    return home


#: Where the CLIs keep the user's own configuration and logins (caches elsewhere are fair game).
USER_CONFIG_PLACES = (".codex", ".hermes", ".claude", ".claude.json", ".gemini")


def snapshot(root: Path) -> dict[str, tuple[bytes, float]]:
    """Content and mtime of every file in the user's CLI config places."""
    files = {}
    for place in USER_CONFIG_PLACES:
        base = root / place
        for p in sorted([base, *base.rglob("*")] if base.is_dir() else [base]):
            if p.is_file():
                files[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mtime)
    return files


@pytest.fixture(scope="session")
def user_files(user_home) -> dict:
    return snapshot(user_home)


@pytest.fixture(scope="session")
def host(tmp_path_factory, cli_bin, model, user_home, user_files):
    """``clawboo-host serve --port 0`` with the user's environment; yields its base URL."""
    data_dir = tmp_path_factory.mktemp("clawboo-data")
    captures = capture_dir()
    if captures is not None:  # re-capturing transcripts: recording wrappers in front
        cli_bin = wrap(cli_bin, captures, tmp_path_factory.mktemp("capture-bin"))
    env = {
        "HOME": str(user_home),
        "PATH": f"{cli_bin}:{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "ANTHROPIC_BASE_URL": model.base_url,
        "ANTHROPIC_AUTH_TOKEN": CLAUDE_GATEWAY_TOKEN,
        "GATEWAY_KEY": GATEWAY_KEY,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GOOGLE_GEMINI_BASE_URL": model.base_url,
    }
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    log = data_dir.parent / "server.log"
    with server_process(
        ["--port", "0", "--data-dir", str(data_dir)], env, data_dir, log=log
    ) as port:
        yield {"url": f"http://127.0.0.1:{port}", "data_dir": data_dir, "log": log}


@pytest.fixture
def client(host):
    with httpx.Client(base_url=host["url"], timeout=180) as c:
        yield c


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_git_repo(tmp_path / "repo")
