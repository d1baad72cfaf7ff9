"""Check a provider key with one GET to the provider's models endpoint, storing nothing."""

from __future__ import annotations

import httpx

from clawboo_host.plugin_api import HealthcheckRequest, HealthcheckResult
from clawboo_host.plugin_api.settings import positive_float

from .providers import PROVIDERS

DEFAULT_TIMEOUT_S = 8.0


def _timeout(env) -> float:
    return positive_float(env, "CLAWBOO_HEALTHCHECK_TIMEOUT_S", DEFAULT_TIMEOUT_S)


async def check_key(request: HealthcheckRequest) -> HealthcheckResult:
    name = request.provider or "anthropic"
    provider = PROVIDERS.get(name)
    if provider is None:
        return HealthcheckResult(ok=False, error=f"unknown provider '{name}'", status_code=400)
    headers: dict[str, str] = {}
    if provider.env_var:
        key = request.api_key or request.stored_key(provider.env_var)
        if not key:
            return HealthcheckResult(ok=False, error="apiKey is required", status_code=400)
        if provider.wire == "anthropic":
            headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        else:
            headers = {"Authorization": f"Bearer {key}"}
    try:
        # Never follow a redirect: it could carry the key to another origin.
        async with httpx.AsyncClient(follow_redirects=False, timeout=_timeout(request.env)) as c:
            response = await c.get(provider.models_url(request.env), headers=headers)
    except httpx.TimeoutException:
        return HealthcheckResult(ok=False, error=f"Could not reach {name} (timed out).")
    except (httpx.HTTPError, OSError, ValueError):
        return HealthcheckResult(ok=False, error=f"Could not reach {name}.")
    status = response.status_code
    if 300 <= status < 400:
        return HealthcheckResult(ok=False, error=f"Could not reach {name}.")
    if 200 <= status < 300:
        return HealthcheckResult(ok=True)
    if status in (401, 403):
        return HealthcheckResult(ok=False, error="Invalid API key.")
    return HealthcheckResult(ok=False, error=f"Provider returned {status}.")
