"""Hermes's own credentials: where its home is and whether it holds a ChatGPT login."""

from __future__ import annotations

import json
import os
from pathlib import Path


def hermes_home(env) -> Path:
    configured = (env.get("HERMES_HOME") or "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".hermes"


def _filled(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def has_chatgpt_auth(auth_file: Path) -> bool:
    """A usable ``openai-codex`` credential in Hermes's ``auth.json``. Never reads it out."""
    try:
        data = json.loads(auth_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    providers = data.get("providers")
    tokens = (
        providers.get("openai-codex", {}).get("tokens") if isinstance(providers, dict) else None
    )
    if (
        isinstance(tokens, dict)
        and _filled(tokens.get("access_token"))
        and _filled(tokens.get("refresh_token"))
    ):
        return True
    pool = data.get("credential_pool")
    entries = pool.get("openai-codex") if isinstance(pool, dict) else None
    return isinstance(entries, list) and any(
        isinstance(e, dict) and (_filled(e.get("access_token")) or _filled(e.get("refresh_token")))
        for e in entries
    )
