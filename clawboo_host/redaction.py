"""Scrub secret-shaped text before it is stored, shown or logged.

Agent output (summaries, stderr, tool results) routinely echoes credentials — a CLI dumping
its env on an auth error, a ``curl -H "Authorization: Bearer …"`` in a transcript. Anything
that reaches a comment, the database, a response or a log line goes through here first
(api-contract §5.6, run-flow §3.9). Two complementary nets:

* ``redact`` — vendor-shaped substrings (``sk-…``, ``ghp_…``, AWS/Google ids, JWTs, PEM
  private keys, ``Bearer …``) and ``UPPER_SNAKE_KEY=value`` assignments (the name is kept, so
  the text still says *which* key leaked). It is an allow-list of shapes, so hashes, ids and
  telemetry survive; it cannot catch a secret with no recognisable shape, hence:
* ``redact_known`` — exact occurrences of the values we actually hold (granted keys, run
  tokens), which catches any shape.

Every function is idempotent: redacting already-redacted text changes nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

__all__ = [
    "MAX_SUMMARY_CHARS",
    "MIN_KNOWN_SECRET_LEN",
    "REDACTED",
    "LIVE_SECRETS",
    "LiveSecrets",
    "RedactingFilter",
    "redact",
    "redact_known",
    "safe_summary",
]

REDACTED = "[REDACTED]"
MAX_SUMMARY_CHARS = 8000
#: Shorter known values are skipped: replacing every "abc" in a transcript hides nothing
#: worth hiding and mangles the text.
MIN_KNOWN_SECRET_LEN = 6

# PEM first so the whole multi-line block goes before the assignment rule could take only
# its first line. An unterminated block (truncated output) is redacted to the end.
_PEM = re.compile(
    r"-----BEGIN[A-Z ]*PRIVATE KEY-----"
    r"(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----|[\s\S]*\Z)"
)

# ``NAME=value`` / ``NAME: value`` with an UPPER_SNAKE name ending KEY/TOKEN/SECRET/PASSWORD.
# The value is quote-aware so a quoted multi-word secret goes whole; an unquoted one stops at
# whitespace. A closing quote after the name covers JSON (``"OPENAI_API_KEY": "…"``). Spaces
# around the separator never cross a newline, so an empty ``X_TOKEN=`` keeps the next line.
_ASSIGNMENT = re.compile(
    r"\b(?P<name>[A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD)[\"']?[ \t]*[=:][ \t]*)"
    r"(?:\"[^\"\n]*\"|'[^'\n]*'|\S+)",
    re.ASCII,
)

# Vendor shapes. Greedy classes without a trailing ``\b`` so a key ending in ``-`` is taken
# whole rather than backtracked into leaving its tail in clear.
_SHAPES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.ASCII)
    for p in (
        r"\bsk-[A-Za-z0-9_-]{12,}",  # OpenAI / Anthropic (sk-ant-) / OpenRouter (sk-or-)
        r"\bgh[pousr]_[A-Za-z0-9]{12,}",  # GitHub tokens (ghp_ PAT, gho_/ghu_/ghs_/ghr_)
        r"\bgithub_pat_[A-Za-z0-9_]{20,}",  # GitHub fine-grained PAT
        r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab PAT
        r"\bxox[baprs]-[A-Za-z0-9-]{10,}",  # Slack
        r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key id
        r"\bAIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])",  # Google API key
        r"\b(?i:bearer)\s+[A-Za-z0-9._~+/-]{12,}=*",  # Authorization: Bearer …
        r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{6,}",  # JWT
    )
)


def _assignment_sub(match: re.Match[str]) -> str:
    return match.group("name") + REDACTED


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def redact(text: str) -> str:
    """Replace secret-shaped substrings with ``[REDACTED]`` (assignments keep their name).

    Lone surrogates (half an emoji cut by a runtime) become ``\ufffd``: the result is
    always storable UTF-8.
    """
    if not text:
        return text
    out = _LONE_SURROGATE.sub("\ufffd", text)
    out = _PEM.sub(REDACTED, out)
    out = _ASSIGNMENT.sub(_assignment_sub, out)
    for pattern in _SHAPES:
        out = pattern.sub(REDACTED, out)
    return out


def _known_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    values: set[str] = set()
    for value in secrets:
        if not isinstance(value, str):
            continue
        for candidate in (value, value.strip()):
            if len(candidate) >= MIN_KNOWN_SECRET_LEN:
                values.add(candidate)
    if not values:
        return None
    # Longest first so a secret that contains another is replaced whole.
    ordered = sorted(values, key=lambda v: (-len(v), v))
    return re.compile("|".join(re.escape(v) for v in ordered))


def redact_known(text: str, secrets: Iterable[str]) -> str:
    """``redact`` plus every exact occurrence of the given secret values (length ≥ 6).

    Known values go first: a shape rule that matched part of a known secret would otherwise
    leave the rest of it in clear.
    """
    if not text:
        return text
    pattern = _known_pattern(secrets)
    out = pattern.sub(REDACTED, text) if pattern is not None else text
    return redact(out)


def safe_summary(text: str | None, secrets: Iterable[str] = ()) -> str:
    """The text that may be stored as a run summary or comment: redacted, then capped.

    Redaction happens before truncation so a cut can never expose the unredacted tail of a
    secret; longer output is cut to 8 000 chars plus ``…``.
    """
    out = redact_known(text or "", secrets)
    if len(out) > MAX_SUMMARY_CHARS:
        out = out[:MAX_SUMMARY_CHARS] + "…"
    return out


def redact_json(value: object, secrets: Iterable[str] = ()) -> object:
    """A copy of a JSON-like value with every string redacted (keys are kept as they are)."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact_known(value, secrets)
    if isinstance(value, dict):
        return {key: redact_json(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item, secrets) for item in value]
    return value


class LiveSecrets:
    """The secret values of the runs live in this process, by run id: what the log filter
    and the MCP tools redact besides the shapes. One per process, like logging itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[str, tuple[str, ...]] = {}

    def hold(self, run_id: str, values: Iterable[str]) -> None:
        with self._lock:
            self._by_run[run_id] = tuple(values)

    def drop(self, run_id: str) -> None:
        with self._lock:
            self._by_run.pop(run_id, None)

    def of(self, run_id: str) -> tuple[str, ...]:
        with self._lock:
            return self._by_run.get(run_id, ())

    def all(self) -> list[str]:
        with self._lock:
            return [value for values in self._by_run.values() for value in values]


LIVE_SECRETS = LiveSecrets()


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's rendered message (and traceback).

    Install it on the host's handlers. The message is formatted with its args *first* (a
    secret usually arrives as an arg, e.g. ``log.info("key %s", key)``), then stored back as
    a plain string with ``args = None`` so no later formatter re-renders the raw values.
    ``known_secrets``, if given, is called per record for exact values to hide as well.
    """

    def __init__(self, known_secrets: Callable[[], Iterable[str]] | None = None) -> None:
        # No logger-name scoping: a redactor that drops or skips records would defeat itself.
        super().__init__()
        self._known_secrets = known_secrets

    def _scrub(self, text: str) -> str:
        if self._known_secrets is None:
            return redact(text)
        try:
            known = list(self._known_secrets())
        except Exception:  # noqa: BLE001 - a broken secret source must not stop logging
            known = []
        return redact_known(text, known)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - malformed %-args: keep everything, still scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg = self._scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True
