"""A real Chromium (Debian's package) driven by Playwright against a live host on loopback.

No browser is ever downloaded: Playwright launches the system ``chromium``
(``CLAWBOO_CHROMIUM`` overrides the path). The host runs with the fault-injection runtime
and a fake ``npm`` on a private PATH; the host fixtures come from ``clawboo_host.testing``.
Screenshots of each view are written to ``e2e/browser/artifacts/`` (not committed).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLAWBOO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
WIDE = {"width": 1280, "height": 800}

# npm as the installer calls it (`npm install -g <pkg>`): a few log lines, then the CLI in
# the npm prefix's bin, where the host looks for it. Codex's package "is not in the registry".
FAKE_NPM = textwrap.dedent(
    """
    import os, sys, time
    package = sys.argv[-1]
    if "codex" in package:
        print("npm ERR! code E404", file=sys.stderr, flush=True)
        print(f"npm ERR! 404 Not Found - GET https://registry.npmjs.org/{package}", file=sys.stderr)
        sys.exit(1)
    for line in (f"npm http fetch GET 200 https://registry.npmjs.org/{package}",
                 "reify:claude-code: timing reifyNode Completed",
                 "added 1 package in 2s"):
        print(line, flush=True)
        time.sleep(0.2)
    bin_dir = os.path.join(os.environ["NPM_CONFIG_PREFIX"], "bin")
    os.makedirs(bin_dir, exist_ok=True)
    claude = os.path.join(bin_dir, "claude")
    with open(claude, "w") as fh:
        fh.write("#!/bin/sh\\necho 2.0.0\\n")
    os.chmod(claude, 0o755)
    """
)


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/test-browser (it installs Debian's)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a shared, busy machine: wait on conditions, longer

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1280×800; uncaught page errors fail the test."""
    context = browser.new_context(viewport=WIDE)
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


@pytest.fixture
def shot():
    """``shot(page, "name")`` saves ``artifacts/name.png`` (the whole page)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page, name: str, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def host_env(clawboo_env, fake_executables):
    fake_executables.add("npm", FAKE_NPM)
    return dict(clawboo_env, CLAWBOO_ENABLE_MOCK_RUNTIME="1")


@pytest.fixture
def host(clawboo_host_factory, host_env):
    return clawboo_host_factory(env=host_env)
