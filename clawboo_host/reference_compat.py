"""Names the host keeps only for compatibility with the reference system and its clients.

The host itself knows no runtime by name; these are the exceptions, gathered here so they
are easy to find and, one day, to drop:

- ``openclaw`` is the reference's own gateway runtime: its id is reserved (never loaded
  from a plugin), and its state dir's ``.env`` is the last source of provider keys (a user's
  existing OpenClaw setup is reused without a connect).
- The reference lists its built-in runtimes in a fixed order.
- ``codexAuth`` is the row field the reference's UI reads for "a runtime holds its own
  credential" (``AuthState.external_credential``), whatever runtime reports it; it is
  rendered with the rest of the row in ``status.py``.
- Claude Code on Bedrock needs the AWS credentials every other child is denied: that switch
  (``CLAUDE_CODE_USE_BEDROCK``) lives in ``plugin_api/childenv.py``, which imports nothing from
  the host, as :func:`~clawboo_host.plugin_api.childenv.bedrock_enabled`.
"""

from __future__ import annotations

#: Runtime ids never loaded from a plugin (the reference's own gateway).
RESERVED_IDS = frozenset({"openclaw"})

#: Built-in runtimes are listed first, in this order; others follow by id; the mock is last.
PREFERRED_ORDER = ("claude-code", "codex", "hermes", "clawboo-native")

#: OpenClaw's state dir: an override variable (first set wins), else the first existing dir.
OPENCLAW_STATE_DIR_OVERRIDES = ("OPENCLAW_STATE_DIR", "MOLTBOT_STATE_DIR", "CLAWDBOT_STATE_DIR")
OPENCLAW_STATE_DIR_NAMES = (".openclaw", ".clawdbot", ".moltbot")
