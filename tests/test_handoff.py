"""AGENT_HANDOFF.json and the resume block (run-flow §3.5, §3.10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clawboo_host.handoff import (
    HANDOFF_FILE,
    Handoff,
    load_resume_state,
    read_handoff,
    read_init_commands,
    resume_block,
    write_handoff,
)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def sample(**kw) -> Handoff:
    base = {
        "handoff_from": "Coder",
        "runtime": "codex",
        "timestamp": "2025-01-02T03:04:05.678Z",
        "completed_subtasks": ["parser handles tabs"],
        "broken_or_unverified": ["the CLI flag is untested"],
        "next_best_step": "wire the flag into main()",
        "commands": {"init": "./init.sh", "verify": "pytest -q", "start": ""},
        "evidence": {"testResults": "3 passed"},
        "warnings": ["do not touch vendor/"],
        "native_session_id": "sess-123",
    }
    base.update(kw)
    return Handoff(**base)


def test_to_json_is_camel_case_in_order() -> None:
    data = sample().to_json()
    assert list(data) == [
        "handoffFrom",
        "runtime",
        "timestamp",
        "completedSubtasks",
        "brokenOrUnverified",
        "nextBestStep",
        "commands",
        "evidence",
        "warnings",
        "nativeSessionId",
    ]
    assert data["nativeSessionId"] == "sess-123"
    assert "nativeSessionId" not in sample(native_session_id=None).to_json()
    assert sample(why_blocked="needs a key").to_json()["whyBlocked"] == "needs a key"


def test_defaults() -> None:
    h = Handoff(handoff_from="a", runtime="hermes")
    assert h.timestamp.endswith("Z") and "T" in h.timestamp
    data = h.to_json()
    assert data["completedSubtasks"] == [] and data["brokenOrUnverified"] == []
    assert data["nextBestStep"] == ""
    assert data["commands"] == {"init": "./init.sh", "verify": "", "start": ""}
    assert data["evidence"] == {} and data["warnings"] == []


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    h = sample(next_best_step="café ☕ next")
    path = write_handoff(tmp_path, h)
    assert path == tmp_path / HANDOFF_FILE
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(h.to_json(), indent=2, ensure_ascii=False) + "\n"
    assert '\n  "handoffFrom": "Coder",\n' in text
    assert read_handoff(tmp_path) == h
    # No temp files left behind.
    assert [p.name for p in tmp_path.iterdir()] == [HANDOFF_FILE]


def test_write_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("precious\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / HANDOFF_FILE).symlink_to(outside)
    write_handoff(wt, sample())
    assert outside.read_text() == "precious\n"
    assert not (wt / HANDOFF_FILE).is_symlink()
    assert read_handoff(wt) == sample()


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        "[1, 2]",
        "null",
        '{"runtime": "codex", "timestamp": "t"}',  # no handoffFrom
        '{"handoffFrom": "", "runtime": "codex", "timestamp": "t"}',
        '{"handoffFrom": "a", "runtime": "codex", "timestamp": "t", "completedSubtasks": "x"}',
        '{"handoffFrom": "a", "runtime": "codex", "timestamp": "t", "commands": []}',
        '{"handoffFrom": "a", "runtime": "codex", "timestamp": "t", "nativeSessionId": 5}',
        '{"handoffFrom": "a", "runtime": "codex", "timestamp": "t", "warnings": [1]}',
        "[" * 100000,
    ],
)
def test_malformed_file_reads_as_none(tmp_path: Path, content: str) -> None:
    (tmp_path / HANDOFF_FILE).write_text(content)
    assert read_handoff(tmp_path) is None


def test_missing_or_unreadable_file_reads_as_none(tmp_path: Path) -> None:
    assert read_handoff(tmp_path) is None
    assert read_handoff(tmp_path / "no-such-dir") is None
    (tmp_path / HANDOFF_FILE).mkdir()
    assert read_handoff(tmp_path) is None


def test_invalid_utf8_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / HANDOFF_FILE).write_bytes(b'{"handoffFrom": "\xff"}')
    assert read_handoff(tmp_path) is None


def test_lenient_defaults_when_reading(tmp_path: Path) -> None:
    (tmp_path / HANDOFF_FILE).write_text(
        json.dumps(
            {
                "handoffFrom": "a",
                "runtime": "human",
                "timestamp": "t",
                "commands": {"verify": "make test"},
                "nativeSessionId": None,
                "roomCursor": {"roomId": "r", "lastSeenSeq": 3},
            }
        )
    )
    h = read_handoff(tmp_path)
    assert h is not None
    assert h.commands == {"init": "./init.sh", "verify": "make test", "start": ""}
    assert h.completed_subtasks == [] and h.next_best_step == "" and h.native_session_id is None


def test_resume_block_full() -> None:
    block = resume_block(sample(why_blocked="waiting for a key"))
    assert block == (
        "# Resume — prior handoff (the work continues from here)\n\n"
        "## Done so far\n- parser handles tabs\n\n"
        "## Broken / unverified\n- the CLI flag is untested\n\n"
        "## Next best step\nwire the flag into main()\n\n"
        "## Why blocked\nwaiting for a key\n\n"
        "## Warnings\n- do not touch vendor/\n\n"
        "## Commands\ninit: ./init.sh\nverify: pytest -q\nstart: "
    )


def test_resume_block_only_present_sections() -> None:
    block = resume_block(
        sample(completed_subtasks=[], broken_or_unverified=[], warnings=[], commands={})
    )
    assert block == (
        "# Resume — prior handoff (the work continues from here)\n\n"
        "## Next best step\nwire the flag into main()\n\n"
        "## Commands\ninit: ./init.sh\nverify: \nstart: "
    )


def test_resume_block_empty() -> None:
    assert resume_block(None) == ""
    empty = Handoff(handoff_from="a", runtime="codex")
    assert resume_block(empty) == ""
    # Broken items alone (e.g. the crash note) are worth resuming from.
    crash = Handoff(handoff_from="a", runtime="codex", broken_or_unverified=["interrupted"])
    assert "## Broken / unverified\n- interrupted" in resume_block(crash)


def test_read_init_commands(tmp_path: Path) -> None:
    assert read_init_commands(tmp_path) == {"init": "./init.sh", "verify": "", "start": ""}
    (tmp_path / "init.sh").write_text(
        "#!/usr/bin/env bash\n"
        "INSTALL_CMD='npm ci'\n"
        "VERIFY_CMD='npm test -- --grep '\\''fast'\\'''\n"
        "START_CMD='npm start'\n"
    )
    assert read_init_commands(tmp_path) == {
        "init": "./init.sh",
        "verify": "npm test -- --grep 'fast'",
        "start": "npm start",
    }


def test_load_resume_state(tmp_path: Path) -> None:
    (tmp_path / "init.sh").write_text("VERIFY_CMD='make check'\nSTART_CMD=''\n")
    assert load_resume_state(tmp_path) is None

    # No handoff: the progress log's Done / Blocked bullets, placeholders skipped.
    (tmp_path / "task-progress.md").write_text(
        "# Progress\n\n## Done\n\n- _Nothing yet._\n\n## Blocked\n\n- _None._\n"
    )
    assert load_resume_state(tmp_path) is None
    (tmp_path / "task-progress.md").write_text(
        "# Progress\n\n## Done\n\n- wrote the parser\n\n## In progress\n\n- lexer\n\n"
        "## Blocked\n\n- needs a fixture\n"
    )
    state = load_resume_state(tmp_path)
    assert state is not None and state.runtime == ""
    assert state.completed_subtasks == ["wrote the parser"]
    assert state.broken_or_unverified == ["needs a fixture"]
    assert state.commands["verify"] == "make check"

    # A handoff wins; its empty commands are filled from init.sh.
    write_handoff(tmp_path, sample(commands={"init": "./init.sh", "verify": "", "start": "go"}))
    state = load_resume_state(tmp_path)
    assert state is not None and state.runtime == "codex"
    assert state.commands == {"init": "./init.sh", "verify": "make check", "start": "go"}
    assert "verify: make check\nstart: go" in resume_block(state)
