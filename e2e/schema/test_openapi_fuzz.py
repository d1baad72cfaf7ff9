"""Fuzz ``/openapi.json`` against the live server with schemathesis (issue 8 item 9).

The document is built from the app itself (the live server's ``/openapi.json`` is checked to
be the very same), one operation per test; each operation gets a fresh host on a real
loopback socket with no way out of the machine: a PATH of fakes only (installs answer
NPM_MISSING), every provider base URL pointed at a dead loopback port, and rate limits
raised so the fuzzer is never throttled. Every response must be documented, match its
schema, never be a 500, and every error must be JSON ``{"error": ...}`` (or a run refusal
``{"ok": false, "reason": ...}``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest
import schemathesis
from clawboo_native.providers import PROVIDERS
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from clawboo_host.app import create_app
from clawboo_host.config import HostConfig
from clawboo_host.registry import build_registry

#: Bounded so the whole suite finishes in a few minutes on two shared cores.
MAX_EXAMPLES = int(os.environ.get("CLAWBOO_SCHEMA_MAX_EXAMPLES", "50"))
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": int(os.environ.get("CLAWBOO_SCHEMA_SEED", "20261203")),
        "generation": {"max-examples": MAX_EXAMPLES},
    }
)


#: A schema-valid body can still be refused on meaning (a built-in runtime has nothing to
#: install, a blank key with no stored one, an unknown task id): those 400s are the
#: documented contract, so "every schema-valid request succeeds" is not checked.
EXCLUDED = [positive_data_acceptance]


def _document() -> dict:
    """The app's OpenAPI document, built without serving (plugins as installed)."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(HostConfig(data_dir=Path(data_dir), env={}), build_registry(env={}))
        return app.openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@pytest.fixture
def server(clawboo_host_factory, clawboo_env):
    env = dict(
        clawboo_env,
        CLAWBOO_RATE_LIMIT_GENERAL="1000000",
        CLAWBOO_RATE_LIMIT_SENSITIVE="1000000",
        CLAWBOO_HEALTHCHECK_TIMEOUT_S="2",
        **{f"{pid.upper()}_BASE_URL": "http://127.0.0.1:9" for pid in PROVIDERS},
    )
    return clawboo_host_factory(env=env)


def test_the_served_document_is_the_one_fuzzed(server):
    assert httpx.get(f"{server.url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
# One host serves every example of an operation; each example leaves it consistent.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
def test_every_response_keeps_the_contract(case, server):
    response = case.call_and_validate(base_url=server.url, excluded_checks=EXCLUDED)
    if response.status_code >= 400:
        assert response.headers["content-type"][0].startswith("application/json")
        body = response.json()
        assert isinstance(body.get("error"), str) or body.get("ok") is False, body
