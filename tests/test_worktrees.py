"""Task worktrees against real git repositories (run-flow §3.4, §3.11; SPEC §4, §5)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import anyio
import pytest

from clawboo_host import worktrees as wtmod
from clawboo_host.worktrees import (
    SOR_FILES,
    NotAGitRepository,
    Worktree,
    WorktreeError,
    branch_name,
    commit_changes,
    has_changes,
    is_git_repo,
    provision,
    remove,
    worktree_path,
)

LIMIT = 60


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """No global or system git config at all: the host identity must carry the commits."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
    )
    env.pop("EMAIL", None)
    return env


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, git_env: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", env=git_env)
    git(repo, "config", "user.name", "Test User", env=git_env)
    git(repo, "config", "user.email", "test@example.com", env=git_env)
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "README.md", env=git_env)
    git(repo, "commit", "-q", "-m", "initial", env=git_env)
    return repo


@pytest.fixture
def wt_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "worktrees"


async def make(repo: Path, task_id: str, wt_dir: Path, env: dict[str, str], **kw) -> Worktree:
    with anyio.fail_after(LIMIT):
        return await provision(
            repo,
            task_id,
            worktrees_dir=wt_dir,
            env=env,
            task_title=kw.pop("title", f"Title of {task_id}"),
            task_description=kw.pop("description", "Do the thing."),
            **kw,
        )


# --------------------------------------------------------------------------- naming


def test_path_layout_and_branch_name(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    link = tmp_path / "link"
    link.symlink_to(repo)
    digest = hashlib.sha1(str(os.path.realpath(repo)).encode()).hexdigest()[:12]
    assert worktree_path(tmp_path / "w", repo, "t-1") == tmp_path / "w" / digest / "t-1"
    # The realpath is hashed: a symlink to the same repo lands in the same place.
    assert worktree_path(tmp_path / "w", link, "t-1") == tmp_path / "w" / digest / "t-1"
    assert branch_name("t-1") == "clawboo/task-t-1"
    assert branch_name("A.b_c-9") == "clawboo/task-A.b_c-9"


@pytest.mark.parametrize("bad", ["", "-x", ".x", "a/b", "..", "a b", "a\n", "x" * 129, "é", "a:b"])
def test_bad_task_ids_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        worktree_path(tmp_path, tmp_path, bad)
    with pytest.raises(ValueError):
        branch_name(bad)


def test_longest_task_id_is_accepted(tmp_path: Path) -> None:
    assert worktree_path(tmp_path, tmp_path, "a" * 128).name == "a" * 128


# --------------------------------------------------------------------------- provision


@pytest.mark.anyio
async def test_is_git_repo(repo: Path, tmp_path: Path, git_env: dict[str, str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert await is_git_repo(repo, git_env) is True
    assert await is_git_repo(plain, git_env) is False
    assert await is_git_repo(tmp_path / "missing", git_env) is False


@pytest.mark.anyio
async def test_provision_cuts_from_head_outside_the_repo(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    # Uncommitted work in the user's repo: tracked edit, staged new file, untracked file.
    (repo / "README.md").write_text("edited but not committed\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt", env=git_env)
    (repo / "untracked.txt").write_text("untracked\n")
    status_before = git(repo, "status", "--porcelain", env=git_env)
    head_before = git(repo, "rev-parse", "HEAD", env=git_env)

    wt = await make(repo, "task-1", wt_dir, git_env, title="Add a feature")

    assert wt.path == worktree_path(wt_dir, repo, "task-1")
    assert wt.branch == "clawboo/task-task-1"
    assert wt.reused is False
    assert wt.path.is_dir()
    assert not str(os.path.realpath(wt.path)).startswith(os.path.realpath(repo) + os.sep)
    # Cut from HEAD: the committed README, none of the uncommitted changes.
    assert (wt.path / "README.md").read_text() == "hello\n"
    assert not (wt.path / "staged.txt").exists()
    assert not (wt.path / "untracked.txt").exists()
    assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD", env=git_env) == wt.branch
    assert git(wt.path, "rev-parse", "HEAD~1", env=git_env) == head_before

    # The user's working tree, index, HEAD and current branch are untouched.
    assert git(repo, "status", "--porcelain", env=git_env) == status_before
    assert git(repo, "rev-parse", "HEAD", env=git_env) == head_before
    assert git(repo, "symbolic-ref", "--short", "HEAD", env=git_env) == "main"
    assert (repo / "README.md").read_text() == "edited but not committed\n"
    assert not any((repo / name).exists() for name in SOR_FILES)


@pytest.mark.anyio
async def test_scaffold_commit_and_files(repo: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    wt = await make(
        repo, "t42", wt_dir, git_env, title="Fix the parser", description="It breaks on tabs."
    )
    head = git(wt.path, "rev-parse", "HEAD", env=git_env)
    assert wt.base_commit == head
    log = git(wt.path, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", env=git_env)
    assert (
        log == "clawboo <clawboo@localhost>|clawboo <clawboo@localhost>|clawboo: scaffold task t42"
    )
    # The five scaffold files, committed; no handoff yet; a clean tree.
    committed = set(git(wt.path, "show", "--name-only", "--format=", "HEAD", env=git_env).split())
    assert committed == set(SOR_FILES[:5])
    assert not (wt.path / "AGENT_HANDOFF.json").exists()
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""

    task_md = (wt.path / "TASK.md").read_text()
    assert task_md.startswith("# Task: Fix the parser\n")
    assert "`t42`" in task_md and "It breaks on tabs." in task_md
    progress = (wt.path / "task-progress.md").read_text()
    for section in (
        "## Current verified state",
        "## Done",
        "## In progress",
        "## Blocked",
        "## Clock-in / clock-out",
    ):
        assert section in progress
    decisions = json.loads((wt.path / "DECISIONS.json").read_text())
    assert decisions["$schema"] == "clawboo/decisions@1" and decisions["decisions"] == []
    init = wt.path / "init.sh"
    assert stat.S_IMODE(init.stat().st_mode) == 0o755
    body = init.read_text()
    assert body.startswith("#!/usr/bin/env bash\nset -euo pipefail\n")
    assert "INSTALL_CMD='echo \"[init] configure INSTALL_CMD in init.sh\"'" in body
    assert "\nVERIFY_CMD='echo \"[init] configure VERIFY_CMD in init.sh\"'\n" in body
    assert "START_CMD='echo \"[init] configure START_CMD in init.sh\"'" in body
    assert "RUN_START_COMMAND" in body
    assert (
        '- Verify: `echo "[init] configure VERIFY_CMD in init.sh"`'
        in (wt.path / "VERIFICATION.md").read_text()
    )
    # init.sh runs: the placeholders only echo.
    done = await anyio.run_process(["bash", str(init)], env=git_env, check=False)
    assert done.returncode == 0, done.stderr
    assert b"configure VERIFY_CMD" in done.stdout


@pytest.mark.anyio
async def test_host_identity_and_no_signing_even_with_hostile_config(
    repo: Path, wt_dir: Path, git_env: dict[str, str], tmp_path: Path
) -> None:
    # The repo asks for signing with a missing program and has a failing commit hook;
    # identity variables in the environment would override the config.
    git(repo, "config", "commit.gpgsign", "true", env=git_env)
    git(repo, "config", "gpg.program", str(tmp_path / "no-such-gpg"), env=git_env)
    git(repo, "config", "--unset", "user.name", env=git_env)
    git(repo, "config", "--unset", "user.email", env=git_env)
    hooks = repo / ".git" / "hooks"
    for hook in ("pre-commit", "commit-msg", "prepare-commit-msg", "post-commit"):
        (hooks / hook).write_text("#!/bin/sh\nexit 1\n")
        (hooks / hook).chmod(0o755)
    env = {**git_env, "GIT_AUTHOR_NAME": "Someone Else", "GIT_COMMITTER_EMAIL": "x@y"}

    wt = await make(repo, "hostile", wt_dir, env)
    assert git(wt.path, "log", "-1", "--format=%an <%ae> %cn <%ce>", env=git_env) == (
        "clawboo <clawboo@localhost> clawboo <clawboo@localhost>"
    )
    (wt.path / "new.py").write_text("print(1)\n")
    with anyio.fail_after(LIMIT):
        sha = await commit_changes(wt, "clawboo: task hostile", env)
    assert sha is not None
    assert git(wt.path, "log", "-1", "--format=%an <%ae>", env=git_env) == (
        "clawboo <clawboo@localhost>"
    )


@pytest.mark.anyio
async def test_second_provision_reuses_the_checkout(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    first = await make(repo, "again", wt_dir, git_env)
    (first.path / "work.txt").write_text("in progress\n")  # uncommitted agent work
    (first.path / "committed.txt").write_text("c\n")
    git(first.path, "add", "committed.txt", env=git_env)
    git(first.path, "commit", "-q", "-m", "agent commit", env=git_env)

    second = await make(repo, "again", wt_dir, git_env)
    assert second.reused is True
    assert second.path == first.path
    assert second.base_commit == first.base_commit
    assert (second.path / "work.txt").read_text() == "in progress\n"
    assert git(second.path, "log", "-1", "--format=%s", env=git_env) == "agent commit"


@pytest.mark.anyio
async def test_rebuild_from_retained_branch_after_the_directory_was_deleted(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    first = await make(repo, "resume-me", wt_dir, git_env)
    (first.path / "feature.py").write_text("x = 1\n")
    with anyio.fail_after(LIMIT):
        sha = await commit_changes(first, "clawboo: work", git_env)
    # The checkout vanishes (a wiped data dir), its registration goes stale.
    shutil.rmtree(first.path)
    # Meanwhile the user's main moves on: the rebuild must NOT re-cut from HEAD.
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "later.txt", env=git_env)
    git(repo, "commit", "-q", "-m", "later", env=git_env)

    again = await make(repo, "resume-me", wt_dir, git_env)
    assert again.reused is False
    assert again.path == first.path
    assert again.base_commit == first.base_commit
    assert git(again.path, "rev-parse", "HEAD", env=git_env) == sha
    assert (again.path / "feature.py").read_text() == "x = 1\n"
    assert not (again.path / "later.txt").exists()
    with anyio.fail_after(LIMIT):
        assert await has_changes(again, git_env) is True


@pytest.mark.anyio
async def test_unregistered_leftover_directory_is_replaced(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    path = worktree_path(wt_dir, repo, "leftover")
    path.mkdir(parents=True)
    (path / "junk").write_text("junk\n")
    wt = await make(repo, "leftover", wt_dir, git_env)
    assert wt.reused is False
    assert not (wt.path / "junk").exists()
    assert (wt.path / "TASK.md").is_file()


@pytest.mark.anyio
async def test_scaffold_lookup_is_exact(repo: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    # Task "1"'s scaffold must not be confused with task "12"'s or "1x1"'s ("." in the id).
    one = await make(repo, "1.1", wt_dir, git_env)
    twelve = await make(repo, "1x1", wt_dir, git_env)
    # Merge the other task's branch into task 1.1's so its scaffold is in the history.
    git(
        one.path,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "merge",
        "-q",
        "--no-edit",
        "--allow-unrelated-histories",
        "-X",
        "theirs",
        twelve.branch,
        env=git_env,
    )
    again = await make(repo, "1.1", wt_dir, git_env)
    assert again.reused is True
    assert again.base_commit == one.base_commit != twelve.base_commit


@pytest.mark.anyio
async def test_rebuild_never_resets_a_retained_branch(
    repo: Path, wt_dir: Path, git_env: dict[str, str], tmp_path: Path
) -> None:
    first = await make(repo, "busy", wt_dir, git_env)
    (first.path / "f.txt").write_text("f\n")
    sha = await commit_changes(first, "work", git_env)
    await remove(first, git_env, delete_branch=False)
    # The user checked the task branch out somewhere else: it cannot be checked out twice.
    git(repo, "worktree", "add", "-q", str(tmp_path / "elsewhere"), first.branch, env=git_env)
    with pytest.raises(WorktreeError, match="retained branch"):
        await make(repo, "busy", wt_dir, git_env)
    assert git(repo, "rev-parse", f"refs/heads/{first.branch}", env=git_env) == sha
    assert not first.path.exists()


@pytest.mark.anyio
async def test_not_a_git_repository(tmp_path: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotAGitRepository) as info:
        await make(plain, "t1", wt_dir, git_env)
    assert str(info.value) == f"not a git repository: {plain}"
    with pytest.raises(NotAGitRepository):
        await make(tmp_path / "missing", "t1", wt_dir, git_env)
    assert not wt_dir.exists()


@pytest.mark.anyio
async def test_repository_without_commits(
    tmp_path: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main", env=git_env)
    with pytest.raises(WorktreeError, match="no commits"):
        await make(empty, "t1", wt_dir, git_env)


@pytest.mark.anyio
async def test_bad_task_id_is_refused_before_git(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        await make(repo, "../escape", wt_dir, git_env)
    assert not wt_dir.exists()


@pytest.mark.anyio
async def test_worktrees_dir_inside_the_repo_is_refused(
    repo: Path, git_env: dict[str, str]
) -> None:
    with pytest.raises(WorktreeError, match="outside"):
        await make(repo, "t1", repo / ".clawboo" / "worktrees", git_env)
    assert git(repo, "status", "--porcelain", env=git_env) == ""


# --------------------------------------------------------------------------- after the run


@pytest.mark.anyio
async def test_has_changes(repo: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    wt = await make(repo, "diff", wt_dir, git_env)
    assert await has_changes(wt, git_env) is False

    # Editing SoR files (and writing the handoff) is not work.
    with (wt.path / "init.sh").open("a") as fh:
        fh.write("VERIFY_CMD='exit 0'\n")
    (wt.path / "task-progress.md").write_text("# progress\n- did things\n")
    (wt.path / "AGENT_HANDOFF.json").write_text("{}\n")
    assert await has_changes(wt, git_env) is False
    # ...even once committed.
    git(wt.path, "add", "-A", env=git_env)
    git(wt.path, "commit", "-q", "-m", "sor only", env=git_env)
    assert await has_changes(wt, git_env) is False

    # A new untracked file is work.
    (wt.path / "feature.py").write_text("print('hi')\n")
    assert await has_changes(wt, git_env) is True
    (wt.path / "feature.py").unlink()
    assert await has_changes(wt, git_env) is False

    # An SoR name in a subdirectory is ordinary work.
    (wt.path / "docs").mkdir()
    (wt.path / "docs" / "TASK.md").write_text("x\n")
    assert await has_changes(wt, git_env) is True
    (wt.path / "docs" / "TASK.md").unlink()
    (wt.path / "docs").rmdir()

    # A tracked edit, then the same change committed by the agent itself.
    (wt.path / "README.md").write_text("changed\n")
    assert await has_changes(wt, git_env) is True
    git(wt.path, "commit", "-q", "-am", "agent edit", env=git_env)
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""
    assert await has_changes(wt, git_env) is True


@pytest.mark.anyio
async def test_has_changes_sees_staged_files_and_mode_changes(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    wt = await make(repo, "staged", wt_dir, git_env)
    (wt.path / "new.txt").write_text("n\n")
    git(wt.path, "add", "new.txt", env=git_env)
    assert await has_changes(wt, git_env) is True
    git(wt.path, "rm", "-q", "--cached", "new.txt", env=git_env)
    (wt.path / "new.txt").unlink()
    assert await has_changes(wt, git_env) is False
    (wt.path / "README.md").chmod(0o755)
    assert await has_changes(wt, git_env) is True


@pytest.mark.anyio
async def test_has_changes_sees_a_deletion(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    wt = await make(repo, "del", wt_dir, git_env)
    (wt.path / "README.md").unlink()
    assert await has_changes(wt, git_env) is True


@pytest.mark.anyio
async def test_commit_changes(repo: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    wt = await make(repo, "commit-me", wt_dir, git_env)
    head_before = git(repo, "rev-parse", "HEAD", env=git_env)
    assert await commit_changes(wt, "nothing", git_env) is None

    (wt.path / "src").mkdir()
    (wt.path / "src" / "app.py").write_text("print('app')\n")
    (wt.path / "README.md").write_text("better\n")
    sha = await commit_changes(wt, "clawboo: task commit-me", git_env)
    assert sha is not None and len(sha) == 40
    assert git(repo, "rev-parse", f"refs/heads/{wt.branch}", env=git_env) == sha
    assert git(wt.path, "log", "-1", "--format=%s|%an <%ae>", env=git_env) == (
        "clawboo: task commit-me|clawboo <clawboo@localhost>"
    )
    assert git(wt.path, "rev-parse", f"{sha}~1", env=git_env) == wt.base_commit
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""
    changed = set(git(wt.path, "show", "--name-only", "--format=", sha, env=git_env).split())
    assert changed == {"src/app.py", "README.md"}
    assert await commit_changes(wt, "again", git_env) is None
    # The user's repository is still where it was.
    assert git(repo, "rev-parse", "HEAD", env=git_env) == head_before
    assert git(repo, "status", "--porcelain", env=git_env) == ""


@pytest.mark.anyio
async def test_commit_changes_follows_an_agent_branch_switch(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    wt = await make(repo, "switch", wt_dir, git_env)
    git(wt.path, "checkout", "-q", "-b", "agent-side", env=git_env)
    (wt.path / "f.txt").write_text("f\n")
    sha = await commit_changes(wt, "work", git_env)
    assert git(repo, "rev-parse", f"refs/heads/{wt.branch}", env=git_env) == sha


@pytest.mark.anyio
async def test_remove(repo: Path, wt_dir: Path, git_env: dict[str, str]) -> None:
    keep = await make(repo, "keep-branch", wt_dir, git_env)
    (keep.path / "dirty.txt").write_text("uncommitted\n")
    await remove(keep, git_env, delete_branch=False)
    assert not keep.path.exists()
    assert os.path.realpath(keep.path) not in git(repo, "worktree", "list", env=git_env)
    assert git(repo, "branch", "--list", keep.branch, env=git_env) != ""

    drop = await make(repo, "drop-branch", wt_dir, git_env)
    await remove(drop, git_env, delete_branch=True)
    assert not drop.path.exists()
    assert git(repo, "branch", "--list", drop.branch, env=git_env) == ""
    # Removing twice is harmless.
    await remove(drop, git_env, delete_branch=True)

    # After removal without the branch, a new provision resumes from the kept branch.
    back = await make(repo, "keep-branch", wt_dir, git_env)
    assert back.base_commit == keep.base_commit
    assert git(repo, "status", "--porcelain", env=git_env) == ""
    assert git(repo, "symbolic-ref", "--short", "HEAD", env=git_env) == "main"


@pytest.mark.anyio
async def test_remove_refuses_to_delete_the_repository(repo: Path, git_env: dict[str, str]) -> None:
    bogus = Worktree(path=repo, branch="clawboo/task-x", repo_path=repo, base_commit="0" * 40)
    with pytest.raises(WorktreeError):
        await remove(bogus, git_env, delete_branch=False)
    assert (repo / "README.md").exists()


# --------------------------------------------------------------------------- concurrency


@pytest.mark.anyio
async def test_concurrent_provisions_in_one_repository(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    results: dict[str, Worktree] = {}

    async def one(task_id: str) -> None:
        results[task_id] = await make(repo, task_id, wt_dir, git_env)

    ids = [f"par-{i}" for i in range(8)]
    with anyio.fail_after(LIMIT * 2):
        async with anyio.create_task_group() as tg:
            for task_id in ids:
                tg.start_soon(one, task_id)

    registered = git(repo, "worktree", "list", "--porcelain", env=git_env)
    for task_id in ids:
        wt = results[task_id]
        assert wt.path.is_dir() and (wt.path / "TASK.md").is_file()
        assert os.path.realpath(wt.path) in registered
        assert git(wt.path, "log", "-1", "--format=%s", env=git_env) == (
            f"clawboo: scaffold task {task_id}"
        )
    assert len({results[t].base_commit for t in ids}) == 8

    # And 8 concurrent removals.
    with anyio.fail_after(LIMIT * 2):
        async with anyio.create_task_group() as tg:
            for task_id in ids:
                tg.start_soon(lambda w: remove(w, git_env, delete_branch=True), results[task_id])
    assert git(repo, "worktree", "list", "--porcelain", env=git_env).count("worktree ") == 1
    assert git(repo, "branch", "--list", "clawboo/*", env=git_env) == ""


@pytest.mark.anyio
async def test_concurrent_provisions_of_the_same_task(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    results: list[Worktree] = []

    async def one() -> None:
        results.append(await make(repo, "same", wt_dir, git_env))

    with anyio.fail_after(LIMIT * 2):
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)
    assert sorted(r.reused for r in results) == [False, True, True, True]
    assert len({r.base_commit for r in results}) == 1
    assert git(results[0].path, "log", "--format=%s", env=git_env).count("scaffold") == 1


def test_locks_do_not_accumulate() -> None:
    import gc

    gc.collect()
    assert len(wtmod._path_locks) == 0
    assert len(wtmod._repo_locks) == 0


@pytest.mark.anyio
async def test_repo_hooks_never_run_and_git_children_get_the_scrubbed_env(
    repo: Path, wt_dir: Path, git_env: dict[str, str], tmp_path: Path
) -> None:
    # Every hook of a hostile repository records that it ran, with its environment; a clean
    # filter (which git runs on `add`, hooks or not) records the environment git children get.
    record = tmp_path / "hook-runs.jsonl"
    recorder = (
        f"#!{shutil.which('python3')}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as fh:\n"
        "    fh.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ)}) + '\\n')\n"
        "if len(sys.argv) > 1 and sys.argv[1] == 'filter':\n"
        "    sys.stdout.write(sys.stdin.read())\n"
    )
    hooks = repo / ".git" / "hooks"
    for hook in (
        "post-checkout",
        "pre-commit",
        "commit-msg",
        "post-commit",
        "reference-transaction",
    ):
        (hooks / hook).write_text(recorder)
        (hooks / hook).chmod(0o755)
    script = tmp_path / "record-filter"
    script.write_text(recorder)
    script.chmod(0o755)
    git(repo, "config", "filter.rec.clean", f"{script} filter", env=git_env)
    (repo / ".gitattributes").write_text("*.txt filter=rec\n")
    git(repo, "add", ".gitattributes", env=git_env)
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "attrs", env=git_env)
    record.unlink(missing_ok=True)
    env = {
        **git_env,
        "CLAWBOO_ACCESS_TOKEN": "host-access-token-123456",
        "OPENAI_API_KEY": "sk-ungranted-provider-key-123456",
    }

    wt = await make(repo, "hooked", wt_dir, env)
    (wt.path / "work.txt").write_text("agent work\n")
    with anyio.fail_after(LIMIT):
        assert await commit_changes(wt, "clawboo: task hooked", env) is not None
        await remove(wt, env, delete_branch=True)

    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["argv"][1:] for r in runs] == [["filter"]] * len(runs) and runs, runs
    for run in runs:
        assert "CLAWBOO_ACCESS_TOKEN" not in run["env"]
        assert "OPENAI_API_KEY" not in run["env"]


# --------------------------------------------------------------------------- git processes


@pytest.fixture
def git_log(tmp_path: Path, git_env: dict[str, str]) -> Path:
    """A ``git`` first on PATH that records each command line, then runs the real git."""
    log = tmp_path / "git-commands.log"
    git_env["PATH"] = path_with_git(
        tmp_path / "git-recorder", f'printf "%s\\n" "$*" >> "{log}"', git_env
    )
    log.write_text("")
    return log


def path_with_git(bin_dir: Path, before: str, env: dict[str, str]) -> str:
    """``env``'s PATH with a ``git`` in ``bin_dir`` first: it runs the shell line ``before``,
    then the real git."""
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\n{before}\nexec "{shutil.which("git")}" "$@"\n')
    (bin_dir / "git").chmod(0o755)
    return f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}"


def commands(log: Path) -> list[str]:
    """The git subcommands run since the last call (the ``-c``/``-C`` options left out)."""
    lines = log.read_text().splitlines()
    log.write_text("")
    out = []
    for line in lines:
        words = line.split()
        while words and words[0] in ("-c", "-C"):
            words = words[2:]
        out.append(" ".join(words[:2]))
    return out


@pytest.mark.anyio
async def test_a_run_in_a_known_repository_needs_three_git_processes_after_the_first(
    repo: Path, wt_dir: Path, git_env: dict[str, str], git_log: Path
) -> None:
    """Refs are read and written as files, the scaffold commit and the worktree's
    registration are written in-process, so a new task costs one ``reset --hard`` (the
    checkout); reporting its change ``add`` and ``commit``."""
    git(repo, "gc", "-q", env=git_env)  # packed objects and packed refs
    commands(git_log)
    assert await is_git_repo(repo, git_env)
    first = await make(repo, "first", wt_dir, git_env)
    assert commands(git_log) == ["rev-parse --is-inside-work-tree", "reset --hard"]
    assert git(first.path, "status", "--porcelain", env=git_env) == ""
    commands(git_log)

    second = await make(repo, "second", wt_dir, git_env)
    assert commands(git_log) == ["reset --hard"]
    (second.path / "feature.py").write_text("print('hi')\n")
    assert await has_changes(second, git_env) is True
    sha = await commit_changes(second, "clawboo: task second", git_env, staged=True)
    assert commands(git_log) == ["add -A", "commit --no-verify"]
    assert sha == git(second.path, "rev-parse", "clawboo/task-second", env=git_env)
    assert git(second.path, "show", "--name-only", "--format=", sha, env=git_env) == "feature.py"
    assert git(second.path, "rev-parse", "HEAD~1", env=git_env) == second.base_commit


@pytest.mark.anyio
async def test_changes_the_agent_staged_itself_are_still_seen(
    repo: Path, wt_dir: Path, git_env: dict[str, str], git_log: Path
) -> None:
    """An index the agent wrote to (``git add``) no longer holds the baseline: the changes
    are then measured with a diff against it."""
    wt = await make(repo, "staged", wt_dir, git_env)
    (wt.path / "feature.py").write_text("print('hi')\n")
    git(wt.path, "add", "feature.py", env=git_env)
    commands(git_log)
    assert await has_changes(wt, git_env) is True
    assert commands(git_log) == ["add -A", "diff --cached"]


@pytest.mark.anyio
async def test_a_sha256_repository_gets_its_scaffold_from_git(
    tmp_path: Path, wt_dir: Path, git_env: dict[str, str], git_log: Path
) -> None:
    repo = tmp_path / "repo256"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256", "-b", "main", env=git_env)
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A", env=git_env)
    git(repo, "-c", "user.name=U", "-c", "user.email=u@x", "commit", "-qm", "init", env=git_env)
    commands(git_log)
    wt = await make(repo, "t256", wt_dir, git_env)
    assert "commit --no-verify" in commands(git_log)  # the fallback: git made the scaffold
    assert len(wt.base_commit) == 64
    assert git(wt.path, "log", "-1", "--format=%s", env=git_env) == "clawboo: scaffold task t256"
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""


@pytest.mark.parametrize(
    "setup",
    [("config", "core.autocrlf", "true"), (".gitattributes", "* text eol=crlf\n")],
    ids=["autocrlf", "gitattributes"],
)
@pytest.mark.anyio
async def test_a_checkout_that_converts_line_endings_still_gets_a_runnable_scaffold(
    repo: Path, wt_dir: Path, git_env: dict[str, str], setup: tuple[str, ...]
) -> None:
    if setup[0] == "config":
        git(repo, *setup, env=git_env)
    else:
        (repo / setup[0]).write_text(setup[1])
        git(repo, "add", "-A", env=git_env)
        git(repo, "commit", "-qm", "attributes", env=git_env)
    wt = await make(repo, "crlf", wt_dir, git_env)
    assert b"\r" not in (wt.path / "init.sh").read_bytes()
    done = await anyio.run_process(["bash", str(wt.path / "init.sh")], env=git_env, check=False)
    assert done.returncode == 0, done.stderr
    assert git(wt.path, "log", "-1", "--format=%s", env=git_env) == "clawboo: scaffold task crlf"


def registrations(repo: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """``git worktree list --porcelain``: each worktree's path and its other lines."""
    out: dict[str, list[str]] = {}
    for block in git(repo, "worktree", "list", "--porcelain", env=env).split("\n\n"):
        lines = block.splitlines()
        out[lines[0].removeprefix("worktree ")] = lines[1:]
    return out


@pytest.mark.anyio
async def test_a_worktree_registered_here_is_one_git_manages(
    repo: Path, wt_dir: Path, git_env: dict[str, str]
) -> None:
    wt = await make(repo, "linked", wt_dir, git_env)
    listed = registrations(repo, git_env)[os.path.realpath(wt.path)]
    assert "branch refs/heads/clawboo/task-linked" in listed and "locked" not in listed
    assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD", env=git_env) == wt.branch
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""
    assert (wt.path / "TASK.md").is_file() and (wt.path / "README.md").is_file()
    git(repo, "worktree", "prune", env=git_env)
    assert os.path.realpath(wt.path) in registrations(repo, git_env)
    git(repo, "fsck", "--strict", env=git_env)
    await remove(wt, git_env, delete_branch=True)
    assert os.path.realpath(wt.path) not in registrations(repo, git_env)
    assert not (repo / ".git" / "worktrees" / "linked").exists()


@pytest.mark.anyio
async def test_git_registers_the_worktree_when_the_repository_needs_it(
    repo: Path, wt_dir: Path, git_env: dict[str, str], git_log: Path
) -> None:
    # A registration of the same name left behind: git numbers its own.
    (repo / ".git" / "worktrees" / "taken").mkdir(parents=True)
    commands(git_log)
    taken = await make(repo, "taken", wt_dir, git_env)
    assert "worktree add" in commands(git_log)
    assert os.path.realpath(taken.path) in registrations(repo, git_env)
    # Per-worktree config: `git worktree add` is the one that knows what to copy.
    git(repo, "config", "extensions.worktreeConfig", "true", env=git_env)
    await make(repo, "configured", wt_dir, git_env)
    assert "worktree add" in commands(git_log)


@pytest.mark.anyio
async def test_a_checkout_that_fails_leaves_nothing_and_git_does_it(
    repo: Path, wt_dir: Path, git_env: dict[str, str], tmp_path: Path
) -> None:
    fail_reset = 'case " $* " in *" reset --hard "*) exit 1;; esac'
    env = {**git_env, "PATH": path_with_git(tmp_path / "failing-reset", fail_reset, git_env)}
    wt = await make(repo, "retried", wt_dir, env)
    assert sorted(os.listdir(repo / ".git" / "worktrees")) == ["retried"]  # git's own, no other
    assert git(wt.path, "status", "--porcelain", env=git_env) == ""
    assert (wt.path / "TASK.md").is_file()
