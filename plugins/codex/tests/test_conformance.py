import json
from pathlib import Path

import clawboo_codex
from fake_codex import FakeCodex

from clawboo_host.testing.conformance import RuntimeConformanceTests


class TestClawbooCodexConformance(RuntimeConformanceTests):
    plugin = clawboo_codex
    runtime_id = "codex"
    fake_cli = FakeCodex
    max_turns_scenario = None  # codex exec has no turn limit

    def prepare_run_env(self, env: dict, tmp_path: Path) -> dict:
        """An oauth runtime: ready through the user's ``codex login``."""
        home = Path(env["CODEX_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        login = {"tokens": {"access_token": "at-kit-login", "refresh_token": "rt-kit"}}
        (home / "auth.json").write_text(json.dumps(login))
        (home / "auth.json").chmod(0o600)
        return env
