"""``AGENT_HANDOFF.json``: the structured clock-out note at a worktree's root (run-flow §3.10),
and the resume block the next run's prompt starts its context with (run-flow §3.5).

The file is data, not prose, so a task can pass from one runtime to another (or to a human):
what is done, what is broken or unverified, the next step, how to re-enter the work, and the
producing runtime's native session id for a same-runtime resume.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "HANDOFF_FILE",
    "Handoff",
    "MalformedHandoff",
    "default_commands",
    "load_resume_state",
    "read_handoff",
    "read_init_commands",
    "resume_block",
    "write_handoff",
]

HANDOFF_FILE = "AGENT_HANDOFF.json"
RESUME_HEADER = "# Resume — prior handoff (the work continues from here)"

#: A handoff bigger than this is not a handoff (and is not read into memory).
_MAX_BYTES = 1024 * 1024


class MalformedHandoff(ValueError):
    """The JSON does not fit the handoff schema."""


def _now_iso() -> str:
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_commands() -> dict[str, str]:
    return {"init": "./init.sh", "verify": "", "start": ""}


@dataclass
class Handoff:
    """One ``AGENT_HANDOFF.json``. ``why_blocked`` is the schema's optional extra field."""

    handoff_from: str
    runtime: str
    timestamp: str = field(default_factory=_now_iso)
    completed_subtasks: list[str] = field(default_factory=list)
    broken_or_unverified: list[str] = field(default_factory=list)
    next_best_step: str = ""
    commands: dict[str, str] = field(default_factory=default_commands)
    evidence: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    native_session_id: str | None = None
    why_blocked: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The camelCase JSON object (``nativeSessionId`` / ``whyBlocked`` only when set)."""
        commands = {**default_commands(), **{k: str(v) for k, v in self.commands.items()}}
        out: dict[str, Any] = {
            "handoffFrom": self.handoff_from,
            "runtime": self.runtime,
            "timestamp": self.timestamp,
            "completedSubtasks": list(self.completed_subtasks),
            "brokenOrUnverified": list(self.broken_or_unverified),
            "nextBestStep": self.next_best_step,
        }
        if self.why_blocked:
            out["whyBlocked"] = self.why_blocked
        out["commands"] = commands
        out["evidence"] = dict(self.evidence)
        out["warnings"] = list(self.warnings)
        if self.native_session_id:
            out["nativeSessionId"] = self.native_session_id
        return out

    @classmethod
    def from_json(cls, data: Any) -> Handoff:
        """Parse and validate the JSON object; :class:`MalformedHandoff` when it does not fit."""
        if not isinstance(data, dict):
            raise MalformedHandoff("a handoff is a JSON object")

        def text(key: str, *, required: bool = False, default: str = "") -> str:
            value = data.get(key, None)
            if value is None:
                if required:
                    raise MalformedHandoff(f"{key} is required")
                return default
            if not isinstance(value, str) or (required and not value):
                raise MalformedHandoff(f"{key} must be a{' non-empty' if required else ''} string")
            return value

        def strings(key: str) -> list[str]:
            value = data.get(key, None)
            if value is None:
                return []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MalformedHandoff(f"{key} must be a list of strings")
            return list(value)

        def optional(key: str) -> str | None:
            value = data.get(key, None)
            if value is not None and not isinstance(value, str):
                raise MalformedHandoff(f"{key} must be a string or null")
            return value or None

        raw_commands = data.get("commands", None)
        commands = default_commands()
        if raw_commands is not None:
            if not isinstance(raw_commands, dict):
                raise MalformedHandoff("commands must be an object")
            for key, value in raw_commands.items():
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise MalformedHandoff(f"commands.{key} must be a string")
                commands[key] = value
        evidence = data.get("evidence", None)
        if evidence is None:
            evidence = {}
        if not isinstance(evidence, dict):
            raise MalformedHandoff("evidence must be an object")

        return cls(
            handoff_from=text("handoffFrom", required=True),
            runtime=text("runtime", required=True),
            timestamp=text("timestamp", required=True),
            completed_subtasks=strings("completedSubtasks"),
            broken_or_unverified=strings("brokenOrUnverified"),
            next_best_step=text("nextBestStep"),
            commands=commands,
            evidence=dict(evidence),
            warnings=strings("warnings"),
            native_session_id=optional("nativeSessionId"),
            why_blocked=optional("whyBlocked"),
        )


def write_handoff(worktree: Path, handoff: Handoff) -> Path:
    """Write ``AGENT_HANDOFF.json`` at the worktree root: 2-space pretty JSON and a final
    newline, atomically (a temp file renamed over it, so a symlink there is replaced, never
    written through, and a host killed mid-write leaves the old file or the new one). Not
    fsynced: a killed host loses nothing the kernel has; a power cut could lose it as it
    could the agent's own files beside it. Returns the file's path."""
    target = Path(worktree) / HANDOFF_FILE
    text = json.dumps(handoff.to_json(), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".AGENT_HANDOFF.", suffix=".tmp", dir=Path(worktree))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def read_handoff(worktree: Path) -> Handoff | None:
    """The worktree's handoff, or ``None`` when it is missing, unreadable or malformed."""
    target = Path(worktree) / HANDOFF_FILE
    try:
        if not target.is_file() or target.stat().st_size > _MAX_BYTES:
            return None
        data = json.loads(target.read_text(encoding="utf-8"))
        return Handoff.from_json(data)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


# --------------------------------------------------------------------------- resume state

_CMD_RE = {
    name: re.compile(rf"^{name}='((?:[^']|'\\'')*)'", re.MULTILINE)
    for name in ("INSTALL_CMD", "VERIFY_CMD", "START_CMD")
}


def read_init_commands(worktree: Path) -> dict[str, str]:
    """``{init, verify, start}`` from the worktree's ``init.sh`` (``VERIFY_CMD='…'`` and
    ``START_CMD='…'``; ``init`` is ``./init.sh``). Missing values are ``''``."""
    commands = default_commands()
    try:
        body = (Path(worktree) / "init.sh").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return commands
    for key, name in (("verify", "VERIFY_CMD"), ("start", "START_CMD")):
        match = _CMD_RE[name].search(body)
        if match:
            commands[key] = match.group(1).replace("'\\''", "'")
    return commands


def _bullets_under(markdown: str, heading: str) -> list[str]:
    items: list[str] = []
    inside = False
    for line in markdown.splitlines():
        head = re.match(r"^##\s+(.*)$", line)
        if head:
            inside = head.group(1).strip().lower() == heading.lower()
            continue
        if not inside:
            continue
        bullet = re.match(r"^\s*-\s+(.*)$", line)
        if bullet:
            item = bullet.group(1).strip()
            if item and not re.fullmatch(r"_.*_", item):  # skip the scaffold's placeholders
                items.append(item)
    return items


def load_resume_state(worktree: Path) -> Handoff | None:
    """The state a run resumes from, rebuilt from the worktree's files only (run-flow §3.4
    step 6): the handoff with its empty commands filled from ``init.sh``; without a valid
    handoff, the ``## Done`` / ``## Blocked`` bullets of ``task-progress.md`` (as a
    ``Handoff`` whose ``runtime`` is ``''``); ``None`` when there is nothing to resume."""
    init_commands = read_init_commands(worktree)
    handoff = read_handoff(worktree)
    if handoff is not None:
        for key, value in init_commands.items():
            if not handoff.commands.get(key):
                handoff.commands[key] = value
        return handoff
    try:
        progress = (Path(worktree) / "task-progress.md").read_text(
            encoding="utf-8", errors="replace"
        )
    except OSError:
        return None
    done = _bullets_under(progress, "Done")
    if not done:
        return None
    return Handoff(
        handoff_from="",
        runtime="",
        timestamp="",
        completed_subtasks=done,
        broken_or_unverified=_bullets_under(progress, "Blocked"),
        commands=init_commands,
    )


def resume_block(handoff: Handoff | None) -> str:
    """The ``# Resume — prior handoff`` block of the prompt's context (run-flow §3.5), or
    ``''`` when there is no handoff or it says nothing (no done items, nothing broken, no
    next step, no reason for a block, no warnings)."""
    if handoff is None:
        return ""
    done = [s for s in handoff.completed_subtasks if s.strip()]
    broken = [s for s in handoff.broken_or_unverified if s.strip()]
    warnings = [s for s in handoff.warnings if s.strip()]
    next_step = handoff.next_best_step.strip()
    why_blocked = (handoff.why_blocked or "").strip()
    if not (done or broken or next_step or why_blocked or warnings):
        return ""

    parts = [RESUME_HEADER]
    if done:
        parts.append("## Done so far\n" + "\n".join(f"- {s}" for s in done))
    if broken:
        parts.append("## Broken / unverified\n" + "\n".join(f"- {s}" for s in broken))
    if next_step:
        parts.append("## Next best step\n" + next_step)
    if why_blocked:
        parts.append("## Why blocked\n" + why_blocked)
    if warnings:
        parts.append("## Warnings\n" + "\n".join(f"- {s}" for s in warnings))
    commands = {**default_commands(), **handoff.commands}
    parts.append(
        "## Commands\n"
        f"init: {commands.get('init', '')}\n"
        f"verify: {commands.get('verify', '')}\n"
        f"start: {commands.get('start', '')}"
    )
    return "\n\n".join(parts)
