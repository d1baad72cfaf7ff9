"""Isolated git worktrees for board tasks (run-flow §3.4, §3.11).

Every file-changing task runs in its own checkout, outside the user's repository::

    <worktrees_dir>/<sha1(realpath(repo))[:12]>/<task_id>     on branch clawboo/task-<task_id>

cut from the repository's ``HEAD`` (uncommitted changes are never inherited). The checkout
gets the five system-of-record (SoR) files and a scaffold commit, ``clawboo: scaffold task
<id>``, which is the baseline the run's changes are measured against. The user's own working
tree, index and ``HEAD`` are never touched: everything happens in the new checkout or in
git's worktree metadata.

Git processes are what a run waits on, so each question is asked once: the repository's top
level and common dir are remembered per repository; refs are read from their files and the
scaffold commit is written straight into the object store (:mod:`clawboo_host.git_objects`,
which falls back to git for any repository shape it does not know); a new task's worktree is
registered in git's layout here too (``git worktree add`` costs three processes: itself, a
``symbolic-ref`` and a ``reset --hard``), so its checkout is one ``git reset --hard`` of its
scaffold commit, and reporting a change is ``add`` and ``commit`` (``diff`` when the agent
staged something itself).

Every git call goes through :func:`~clawboo_host.plugin_api.process.run_capture` (argv only,
own process group, 60 s timeout, ``GIT_TERMINAL_PROMPT=0``) with ``core.hooksPath=/dev/null``
and the scrubbed child environment (:func:`~clawboo_host.plugin_api.childenv.build_child_env`):
a repository's hooks never run, and nothing git starts (a filter, a credential helper) sees
the host's access token or any provider key. Commits the host makes use the host's identity
(``clawboo <clawboo@localhost>``) and never sign, so they work on a machine where git has no
user configured.

Concurrency: provision/remove of one path are serialized by a per-path lock, and the
commands that write git's worktree metadata (a registration, ``worktree add/remove/prune``,
branch deletion) by a per-repository lock, because concurrent ``worktree add`` in one
repository is not safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import weakref
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from . import git_objects
from .plugin_api.childenv import build_child_env
from .plugin_api.process import CompletedCapture, run_capture

__all__ = [
    "GIT_TIMEOUT_S",
    "HOST_GIT_IDENTITY",
    "NO_HOOKS",
    "SCAFFOLD_FILES",
    "SOR_FILES",
    "NotAGitRepository",
    "Worktree",
    "WorktreeError",
    "branch_name",
    "commit_changes",
    "has_changes",
    "is_git_repo",
    "provision",
    "remove",
    "scaffold_message",
    "validate_task_id",
    "worktree_path",
]

#: Every git command gets this long before its process tree is killed.
GIT_TIMEOUT_S = 60.0

#: The five files the scaffold writes, then the clock-out artifact (not scaffolded).
SOR_FILES = (
    "TASK.md",
    "task-progress.md",
    "DECISIONS.json",
    "init.sh",
    "VERIFICATION.md",
    "AGENT_HANDOFF.json",
)
SCAFFOLD_FILES = SOR_FILES[:5]

#: ``-c`` options for every git command the host runs: a repository's hooks never run (they
#: would run as the host, on every checkout and commit).
log = logging.getLogger(__name__)

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")

HOST_NAME, HOST_EMAIL = "clawboo", "clawboo@localhost"

#: ``-c`` options for every commit the host makes: its own identity, no signing, and no
#: ``git maintenance --auto`` child after each commit (the user's own commands still run it).
HOST_GIT_IDENTITY = (
    "-c",
    f"user.name={HOST_NAME}",
    "-c",
    f"user.email={HOST_EMAIL}",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "maintenance.auto=false",
)

_TASK_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

# Variables that would point git somewhere else than the directory we name with -C.
_GIT_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
# Variables that would override the host identity of a commit.
_GIT_IDENTITY_VARS = (
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
)


class NotAGitRepository(Exception):
    """``repo_path`` is not inside a git working tree."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        super().__init__(f"not a git repository: {self.path}")


class WorktreeError(Exception):
    """A git operation on a task worktree failed; the message says which and why."""


@dataclass(frozen=True)
class Worktree:
    """A task's checkout. ``base_commit`` is the scaffold commit (the diff baseline);
    ``reused`` is true when an existing registered checkout was taken as it was;
    ``cut_from_head`` when the branch was (re)cut from the repository's ``HEAD``; while the
    checkout's index still has ``index_stamp`` it holds exactly the baseline."""

    path: Path
    branch: str
    repo_path: Path
    base_commit: str
    reused: bool = False
    cut_from_head: bool = False
    #: the checkout's index file as the cut left it (see :func:`has_changes`)
    index_stamp: tuple[int, int, int] | None = None


# --------------------------------------------------------------------------- naming


def validate_task_id(task_id: str) -> str:
    """Return ``task_id`` when it is safe as a path component and a branch suffix."""
    if not isinstance(task_id, str) or not _TASK_ID_RE.fullmatch(task_id):
        raise ValueError(f"invalid task id {task_id!r}: must match {_TASK_ID_RE.pattern}")
    return task_id


def worktree_path(worktrees_dir: Path, repo_path: Path, task_id: str) -> Path:
    """``<worktrees_dir>/<sha1(realpath(repo))[:12]>/<task_id>``."""
    validate_task_id(task_id)
    digest = hashlib.sha1(str(os.path.realpath(repo_path)).encode("utf-8")).hexdigest()[:12]
    return Path(worktrees_dir) / digest / task_id


def branch_name(task_id: str) -> str:
    return f"clawboo/task-{validate_task_id(task_id)}"


def scaffold_message(task_id: str) -> str:
    return f"clawboo: scaffold task {task_id}"


# --------------------------------------------------------------------------- locks

# Weak values: a lock lives while someone holds or waits on it, so the maps do not grow
# without bound and a lock is never shared between two event loops (pytest runs one per test).
_path_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
_repo_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock_for(table: weakref.WeakValueDictionary[str, asyncio.Lock], key: str) -> asyncio.Lock:
    lock = table.get(key)
    if lock is None:
        lock = asyncio.Lock()
        table[key] = lock
    return lock


@asynccontextmanager
async def _locked(
    table: weakref.WeakValueDictionary[str, asyncio.Lock], key: str
) -> AsyncIterator[None]:
    lock = _lock_for(table, key)  # the local reference keeps it alive while held
    async with lock:
        yield


def _path_key(path: Path) -> str:
    return os.path.realpath(path)


# --------------------------------------------------------------------------- git


def _git_env(env: Mapping[str, str] | None, *, commit: bool = False) -> dict[str, str]:
    out = build_child_env(env)
    for name in _GIT_LOCATION_VARS:
        out.pop(name, None)
    if commit:
        for name in _GIT_IDENTITY_VARS:
            out.pop(name, None)
    out["GIT_TERMINAL_PROMPT"] = "0"
    return out


async def _git(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    commit: bool = False,
) -> CompletedCapture:
    argv: list[str | os.PathLike[str]] = ["git", *NO_HOOKS]
    if commit:
        argv += HOST_GIT_IDENTITY
    argv += ["-c", "core.quotepath=off", "-C", os.fspath(cwd), *args]
    return await run_capture(argv, env=_git_env(env, commit=commit), timeout=GIT_TIMEOUT_S)


def _why(result: CompletedCapture) -> str:
    if result.timed_out:
        return f"timed out after {GIT_TIMEOUT_S:g}s"
    text = (result.stderr or result.stdout).strip()
    if result.returncode is None:
        return text or "could not start git"
    return text or f"exit code {result.returncode}"


async def _git_ok(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    what: str,
    commit: bool = False,
) -> CompletedCapture:
    result = await _git(args, cwd=cwd, env=env, commit=commit)
    if not result.ok:
        raise WorktreeError(f"{what} failed: {_why(result)}")
    return result


async def is_git_repo(repo_path: Path, env: Mapping[str, str] | None) -> bool:
    """True when ``repo_path`` is an existing directory inside a git working tree."""
    return await _repo_facts(Path(repo_path), env) is not None


#: ``realpath(repo) -> (toplevel, common dir)``: what git said, kept while both still exist.
_facts_cache: dict[str, tuple[str, str]] = {}
_FACTS_CACHE_SIZE = 256


async def _repo_facts(repo: Path, env: Mapping[str, str] | None) -> tuple[str, str] | None:
    """``(toplevel, lock key)`` of the working tree ``repo`` is in; ``None`` when it is not
    inside one. The lock key is git's common dir (realpath), shared by all of a repository's
    worktrees. Asked of git once per repository (then remembered while the top level's
    ``.git`` and the common dir exist): runs in one repository need no process for it."""
    if not repo.is_dir():
        return None
    key = os.path.realpath(repo)
    known = _facts_cache.get(key)
    if (
        known is not None
        and os.path.lexists(os.path.join(known[0], ".git"))
        and os.path.isdir(known[1])
    ):
        return known
    result = await _git(
        ["rev-parse", "--is-inside-work-tree", "--show-toplevel", "--git-common-dir"],
        cwd=repo,
        env=env,
    )
    lines = result.stdout.splitlines()
    if not result.ok or len(lines) != 3 or lines[0].strip() != "true":
        _facts_cache.pop(key, None)
        return None
    # --git-common-dir is relative to repo, or absolute
    facts = os.path.realpath(lines[1]), os.path.realpath(os.path.join(repo, lines[2]))
    if len(_facts_cache) >= _FACTS_CACHE_SIZE:
        _facts_cache.pop(next(iter(_facts_cache)))
    _facts_cache[key] = facts
    return facts


async def _repo_key(repo: Path, env: Mapping[str, str] | None) -> str:
    """The repository lock's key (the realpath of ``repo`` when git cannot tell)."""
    facts = await _repo_facts(Path(repo), env)
    return facts[1] if facts is not None else os.path.realpath(repo)


async def _registered_paths(repo: Path, env: Mapping[str, str] | None) -> set[str]:
    """Realpaths of the checkouts ``git worktree list --porcelain`` knows for ``repo``."""
    result = await _git(["worktree", "list", "--porcelain"], cwd=repo, env=env)
    if not result.ok:
        return set()
    return {
        os.path.realpath(line[len("worktree ") :])
        for line in result.stdout.splitlines()
        if line.startswith("worktree ")
    }


async def _is_registered(repo: Path, path: Path, env: Mapping[str, str] | None) -> bool:
    return path.is_dir() and os.path.realpath(path) in await _registered_paths(repo, env)


async def _commit_of(
    repo: Path, toplevel: str, ref: str, env: Mapping[str, str] | None
) -> str | None:
    """The commit ``ref`` (``HEAD``, ``refs/heads/…``) of ``repo``'s checkout points to, or
    ``None``: read from the ref files, or asked of git when they are not plain ones."""
    try:
        return git_objects.read_ref(*git_objects.git_dirs(Path(toplevel)), ref)
    except (git_objects.Unsupported, OSError, UnicodeDecodeError):
        pass
    result = await _git(
        ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo, env=env
    )
    sha = result.stdout.strip()
    return sha if result.ok and sha else None


async def _find_scaffold(
    cwd: Path, task_id: str, rev: str, env: Mapping[str, str] | None
) -> str | None:
    # Anchored and with the dots escaped, so task "1" never finds task "12"'s scaffold (a
    # merged task branch brings other tasks' scaffold commits into the history).
    pattern = "^" + scaffold_message(task_id).replace(".", "[.]") + "$"
    result = await _git(
        ["log", "--format=%H", "--extended-regexp", "--grep", pattern, "-n", "1", rev, "--"],
        cwd=cwd,
        env=env,
    )
    sha = result.stdout.strip()
    return sha if result.ok and sha else None


async def _fork_point(repo: Path, path: Path, env: Mapping[str, str] | None) -> str:
    head = await _git(["rev-parse", "HEAD"], cwd=repo, env=env)
    if head.ok and head.stdout.strip():
        fork = await _git(["merge-base", "HEAD", head.stdout.strip()], cwd=path, env=env)
        if fork.ok and fork.stdout.strip():
            return fork.stdout.strip()
    own = await _git_ok(["rev-parse", "HEAD"], cwd=path, env=env, what="git rev-parse HEAD")
    return own.stdout.strip()


async def _rmtree(path: Path) -> None:
    if os.path.lexists(path):
        if path.is_symlink() or not path.is_dir():
            await anyio.to_thread.run_sync(os.unlink, path)
        else:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


async def _preclean(repo: Path, path: Path, env: Mapping[str, str] | None) -> None:
    """Forget any registration of ``path`` and delete whatever is on disk there.
    Call with the repository lock held."""
    await _git(["worktree", "remove", "--force", os.fspath(path)], cwd=repo, env=env)
    await _git(["worktree", "prune"], cwd=repo, env=env)
    await _rmtree(path)


def _is_within(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- scaffold


def _one_line(text: str) -> str:
    return " ".join((text or "").split()) or "(untitled)"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


_PLACEHOLDER = 'echo "[init] configure {name} in init.sh"'


def _render_scaffold(
    task_id: str, title: str, description: str, team_name: str | None
) -> dict[str, str]:
    title = _one_line(title)
    install = _PLACEHOLDER.format(name="INSTALL_CMD")
    verify = _PLACEHOLDER.format(name="VERIFY_CMD")
    start = _PLACEHOLDER.format(name="START_CMD")

    task_md = [f"# Task: {title}", "", f"- **Task ID:** `{task_id}`"]
    if team_name:
        task_md.append(f"- **Team:** {_one_line(team_name)}")
    task_md += [
        "",
        "## What & why",
        "",
        (description or "").strip() or "_No description provided._",
        "",
        "## Acceptance criteria",
        "",
        '- [ ] _State what "done" means for this task._',
        "",
        "## Known gotchas",
        "",
        "- _None recorded yet. Note constraints the next runtime should not have to rediscover._",
        "",
        "## How to work this task",
        "",
        "1. Run `./init.sh`: it installs dependencies and checks that the baseline verifies.",
        (
            "2. Read `AGENT_HANDOFF.json` (when present) and `task-progress.md` to see where"
            " the previous runtime stopped."
        ),
        "3. Do the work, within this task's scope.",
        "4. Record decisions in `DECISIONS.json` and evidence in `VERIFICATION.md`.",
        "5. Before stopping, update `task-progress.md` and write `AGENT_HANDOFF.json`.",
        "",
    ]

    progress_md = [
        f"# Progress — {title}",
        "",
        "## Current verified state",
        "",
        f"- Task: `{task_id}`",
        "- Startup: `./init.sh`",
        f"- Verify: `{verify}`",
        "- Current blocker: _none_",
        "",
        "## Done",
        "",
        "- _Nothing yet._",
        "",
        "## In progress",
        "",
        "- _Not started._",
        "",
        "## Blocked",
        "",
        "- _None._",
        "",
        "## Clock-in / clock-out",
        "",
        (
            "**Clock-in (on entry):** run `./init.sh`, read `AGENT_HANDOFF.json` and this"
            " file, run the baseline verify."
        ),
        "",
        "**Clock-out (before exit):** run verify, update this file, write `AGENT_HANDOFF.json`.",
        "",
    ]

    decisions = (
        "{\n"
        '  "$schema": "clawboo/decisions@1",\n'
        '  "note": "Add one entry per non-obvious decision: what was chosen, why, the rejected'
        ' alternative and the constraint behind it. The why is what the next runtime needs.",\n'
        '  "decisions": []\n'
        "}\n"
    )

    init_sh = [
        "#!/usr/bin/env bash",
        "set -euo pipefail",
        "",
        'ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'cd "$ROOT_DIR"',
        "",
        "# Project commands: edit these three for the repository under work.",
        f"INSTALL_CMD={_shell_quote(install)}",
        f"VERIFY_CMD={_shell_quote(verify)}",
        f"START_CMD={_shell_quote(start)}",
        "",
        'echo "==> Working directory: $PWD"',
        'echo "==> Installing dependencies"',
        'eval "$INSTALL_CMD"',
        "",
        'echo "==> Baseline verification"',
        'eval "$VERIFY_CMD"',
        "",
        'echo "==> Start command: $START_CMD"',
        'if [ "${RUN_START_COMMAND:-0}" = "1" ]; then',
        '  echo "==> Starting"',
        '  eval "$START_CMD"',
        "fi",
        "",
        'echo "Set RUN_START_COMMAND=1 to start the app as well."',
        "",
    ]

    verification_md = [
        f"# Verification — {title}",
        "",
        "Record the evidence that this task is done: the output of a real check, not an",
        "opinion about the code. The completion gate reads this file.",
        "",
        "## Commands",
        "",
        f"- Verify: `{verify}`",
        "",
        "## Evidence",
        "",
        "- _Paste the passing test / lint output here._",
        "",
    ]

    return {
        "TASK.md": "\n".join(task_md),
        "task-progress.md": "\n".join(progress_md),
        "DECISIONS.json": decisions,
        "init.sh": "\n".join(init_sh),
        "VERIFICATION.md": "\n".join(verification_md),
    }


def _write_scaffold(path: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        target = path / name
        # The checkout may already hold these names (a retained branch): never write
        # through a symlink, and replace a directory of that name.
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        target.write_text(text, encoding="utf-8")
    (path / "init.sh").chmod(0o755)


async def _commit_scaffold(path: Path, task_id: str, files: Mapping[str, str], env) -> str:
    """Write the scaffold into the checkout at ``path`` and commit it with git."""
    await anyio.to_thread.run_sync(_write_scaffold, path, files)
    # Everything, forced, so a .gitignore that covers *.md or *.sh cannot keep the baseline
    # incomplete (a fresh checkout holds no other ignored files to sweep in).
    await _git_ok(["add", "-A", "--force"], cwd=path, env=env, what="git add (scaffold)")
    # --allow-empty: a repository that already holds identical SoR files (a merged task
    # branch) must still get the scaffold commit that marks the baseline.
    await _git_ok(
        ["commit", "--no-verify", "--allow-empty", "-q", "-m", scaffold_message(task_id)],
        cwd=path,
        env=env,
        commit=True,
        what="git commit (scaffold)",
    )
    sha, _ = await _checkout_head(path, env)
    return sha


def _scaffold_objects(
    toplevel: str, parent: str, task_id: str, files: Mapping[str, str]
) -> str | None:
    """The scaffold commit on top of ``parent``, written straight into the object store (no
    checkout, no git process); ``None`` when this repository needs git to do it."""
    try:
        _, common = git_objects.git_dirs(Path(toplevel))
        with git_objects.ObjectStore(common) as store:
            tree = git_objects.tree_with_files(
                store,
                parent,
                {
                    name: (0o100755 if name == "init.sh" else 0o100644, text.encode("utf-8"))
                    for name, text in files.items()
                },
            )
            return git_objects.write_commit(
                store, tree, [parent], scaffold_message(task_id), f"{HOST_NAME} <{HOST_EMAIL}>"
            )
    except (git_objects.Unsupported, OSError, ValueError, zlib.error):
        return None


def _create_branch(toplevel: str, branch: str, sha: str) -> bool:
    """Create ``refs/heads/<branch>`` at ``sha`` in-process; False: let git do it."""
    try:
        return git_objects.create_ref(
            git_objects.git_dirs(Path(toplevel))[1], f"refs/heads/{branch}", sha
        )
    except (git_objects.Unsupported, OSError, UnicodeDecodeError):
        return False


def _index_stamp(path: Path) -> tuple[int, int, int] | None:
    """Identity of the checkout's index file: git replaces it (new inode, time, size) on
    every write, so an equal stamp means an untouched index."""
    try:
        info = os.stat(git_objects.git_dirs(path)[0] / "index")
    except (git_objects.Unsupported, OSError, UnicodeDecodeError):
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _matches_scaffold(path: Path, files: Mapping[str, str]) -> bool:
    """Whether the checkout holds the scaffold as rendered (a ``.gitattributes`` or
    ``core.autocrlf`` may have converted it on checkout)."""
    try:
        return all(
            (path / name).read_bytes() == text.encode("utf-8") for name, text in files.items()
        )
    except OSError:
        return False


# --------------------------------------------------------------------------- provision


async def _add_worktree(
    repo: Path, path: Path, args: Sequence[str], env: Mapping[str, str] | None
) -> None:
    """``git worktree add <args>``, checked, with one full cleanup and retry on failure.
    Call with the repository lock held."""
    why = ""
    for attempt in range(2):
        # Nothing on disk at the path: try the add straight away (remove + prune are two
        # git processes, prune the slowest of a run's); a stale registration makes the add
        # fail, and the retry cleans up fully first.
        if attempt or os.path.lexists(path):
            await _preclean(repo, path, env)
        result = await _git(["worktree", "add", "--quiet", *args], cwd=repo, env=env)
        # a linked worktree's checkout holds a .git *file* pointing at its registration
        if result.ok and (path / ".git").is_file():
            return
        why = _why(result) if not result.ok else "the new worktree is not registered"
    await _preclean(repo, path, env)
    raise WorktreeError(f"git worktree add {path} failed: {why}")


_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: Repository settings ``git worktree add`` acts on that :func:`_link_worktree` does not.
_WORKTREE_SETTINGS = re.compile(rb"worktreeconfig|sparsecheckout", re.IGNORECASE)


async def _link_worktree(
    toplevel: str, path: Path, branch: str, env: Mapping[str, str] | None
) -> bool:
    """What ``git worktree add <path> <branch>`` does for a branch nobody has checked out,
    with one git process instead of three (the command, its ``symbolic-ref`` child and its
    ``reset --hard`` child): the registration files are written here, in git's layout, and
    ``git reset --hard`` checks the branch out. False (nothing left behind) when this
    repository or path needs ``git worktree add`` itself. Call with the repository lock held.
    """
    name = path.name
    try:
        _, common = git_objects.git_dirs(Path(toplevel))
        if (
            not _PLAIN_NAME.fullmatch(name)
            or os.path.lexists(path)
            or _WORKTREE_SETTINGS.search((common / "config").read_bytes())
            or (common / "info" / "sparse-checkout").exists()
        ):
            return False
        (common / "worktrees").mkdir(exist_ok=True)
        admin = common / "worktrees" / name
        admin.mkdir()  # taken: a registration of that name exists, let git number it
    except (git_objects.Unsupported, OSError):
        return False
    try:
        # "locked" keeps a concurrent `git worktree prune` off it until it is complete.
        (admin / "locked").write_text("initializing\n")
        path.mkdir()
        (path / ".git").write_text(f"gitdir: {admin}\n")
        (admin / "gitdir").write_text(f"{os.path.realpath(path)}/.git\n")
        (admin / "commondir").write_text("../..\n")
        (admin / "HEAD").write_text(f"ref: refs/heads/{branch}\n")
        checkout = await _git(
            ["reset", "--hard", "--no-recurse-submodules", "--quiet"], cwd=path, env=env
        )
        if not checkout.ok:
            raise WorktreeError(_why(checkout))
        (admin / "locked").unlink()
    except BaseException as exc:  # failed or cancelled: leave nothing half-registered
        shutil.rmtree(admin, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        if not isinstance(exc, (OSError, WorktreeError)):
            raise
        log.warning("registering the worktree %s here failed (%s); git will do it", path, exc)
        return False
    return True


async def provision(
    repo_path: Path,
    task_id: str,
    *,
    worktrees_dir: Path,
    env: Mapping[str, str] | None,
    task_title: str,
    task_description: str,
    team_name: str | None = None,
) -> Worktree:
    """Give task ``task_id`` its worktree of ``repo_path``; see the module docstring.

    - A registered checkout already at the path is reused as it is (``reused=True``).
    - Otherwise, when branch ``clawboo/task-<id>`` still exists (a checkout that was
      deleted or paused), the checkout is rebuilt from it: the earlier work continues.
      When that fails (say the branch is checked out elsewhere) it raises
      :class:`WorktreeError` rather than reset the branch.
    - Otherwise a new branch is cut from the repository's ``HEAD`` and scaffolded.

    Raises ``ValueError`` (bad task id), :class:`NotAGitRepository`, :class:`WorktreeError`.
    """
    validate_task_id(task_id)
    repo_path = Path(repo_path)
    facts = await _repo_facts(repo_path, env)
    if facts is None:
        raise NotAGitRepository(repo_path)
    toplevel, repo_key = facts
    path = worktree_path(worktrees_dir, repo_path, task_id)
    branch = branch_name(task_id)
    if _is_within(os.path.realpath(path), toplevel):
        raise WorktreeError(
            f"the worktrees directory {worktrees_dir} is inside the repository {toplevel}; "
            "task worktrees must live outside the user's repository"
        )

    async with _locked(_path_locks, _path_key(path)):
        # 1. Reuse a live registered checkout as it is.
        if await _is_registered(repo_path, path, env):
            base = await _find_scaffold(path, task_id, branch, env)
            if base is None:
                base = await _find_scaffold(path, task_id, "HEAD", env)
            if base is None:
                # History was rewritten and the scaffold commit is gone. Never rebuild
                # over a live checkout (it may hold uncommitted work): measure from where
                # it forked off the repository's HEAD instead.
                base = await _fork_point(repo_path, path, env)
            return Worktree(path, branch, repo_path, base, reused=True)

        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        files = _render_scaffold(task_id, task_title, task_description, team_name)

        # 2. Rebuild from the retained branch. A failure is an error, not a reason to cut
        #    a new branch: re-cutting would reset the branch and lose the retained work.
        if await _commit_of(repo_path, toplevel, f"refs/heads/{branch}", env) is not None:
            async with _locked(_repo_locks, repo_key):
                try:
                    await _add_worktree(repo_path, path, [os.fspath(path), branch], env)
                except WorktreeError as exc:
                    raise WorktreeError(
                        f"could not check out the retained branch {branch}: {exc}"
                    ) from exc
            base = await _find_scaffold(path, task_id, branch, env)
            if base is None:  # a branch of that name without our scaffold: add it
                base = await _commit_scaffold(path, task_id, files, env)
            return Worktree(path, branch, repo_path, base, reused=False)

        # 3. Cut a new branch from HEAD, on the scaffold commit made in-process when the
        #    repository allows (then one git process checks it all out), else by git.
        sha = await _commit_of(repo_path, toplevel, "HEAD", env)
        if sha is None:
            raise WorktreeError(
                f"the repository {repo_path} has no commits yet; commit something first so "
                "a task branch can be cut from HEAD"
            )
        scaffold = await anyio.to_thread.run_sync(_scaffold_objects, toplevel, sha, task_id, files)
        async with _locked(_repo_locks, repo_key):
            existing = await _commit_of(repo_path, toplevel, f"refs/heads/{branch}", env)
            if (
                scaffold is not None
                and existing is None
                and _create_branch(toplevel, branch, scaffold)
            ):
                args = [os.fspath(path), branch]  # the branch is there: no `git branch` child
                if await _link_worktree(toplevel, path, branch, env):
                    args = []  # registered here, checked out by one `git reset --hard`
            elif scaffold is not None:
                args = ["-B" if existing else "-b", branch, os.fspath(path), scaffold]
            elif existing == sha:
                args = [os.fspath(path), branch]
            elif existing is not None:
                args = ["-B", branch, os.fspath(path), sha]
            else:
                args = ["-b", branch, os.fspath(path), sha]
            if args:
                await _add_worktree(repo_path, path, args, env)
        try:
            if scaffold is None:
                base = await _commit_scaffold(path, task_id, files, env)
            else:
                base = scaffold
                if not _matches_scaffold(path, files):
                    await anyio.to_thread.run_sync(_write_scaffold, path, files)
        except BaseException:
            with anyio.CancelScope(shield=True):
                async with _locked(_repo_locks, repo_key):
                    await _preclean(repo_path, path, env)
            raise
        return Worktree(
            path,
            branch,
            repo_path,
            base,
            reused=False,
            cut_from_head=True,
            index_stamp=_index_stamp(path),
        )


# --------------------------------------------------------------------------- after the run


async def has_changes(wt: Worktree, env: Mapping[str, str] | None) -> bool:
    """Stage everything (``git add -A``), then tell whether anything other than the SoR files
    differs from ``wt.base_commit``: tracked changes (committed after the baseline or not)
    and untracked files. The index is left staged for :func:`commit_changes`.

    While the checkout is on the baseline with the index the cut wrote (nobody staged,
    committed or refreshed since), what ``git add --verbose`` stages is the whole change,
    and the ``diff`` is not needed."""
    untouched = (
        wt.index_stamp is not None
        and _index_stamp(wt.path) == wt.index_stamp
        and (await _checkout_head(wt.path, env))[0] == wt.base_commit
    )
    added = await _git_ok(["add", "-A", "--verbose"], cwd=wt.path, env=env, what="git add")
    if untouched:
        return any(_staged_path(line) not in SOR_FILES for line in added.stdout.splitlines())
    excludes = [f":(exclude){name}" for name in SOR_FILES]
    diff = await _git_ok(
        ["diff", "--cached", "--no-renames", "--name-only", wt.base_commit, "--", ".", *excludes],
        cwd=wt.path,
        env=env,
        what="git diff",
    )
    return bool(diff.stdout.strip())


def _staged_path(line: str) -> str | None:
    """The path of an ``add 'x'`` / ``remove 'x'`` line of ``git add --verbose``."""
    for verb in ("add '", "remove '"):
        if line.startswith(verb) and line.endswith("'"):
            return line[len(verb) : -1]
    return None


async def commit_changes(
    wt: Worktree,
    message: str,
    env: Mapping[str, str] | None,
    paths: Sequence[str] = (),
    *,
    staged: bool = False,
) -> str | None:
    """Stage everything in the worktree (only ``paths``, when given; nothing when the caller
    has just ``staged`` it all) and commit it on the task branch with the host's identity.
    Returns the new commit's sha, or ``None`` when there was nothing to commit."""
    only = ["--", *paths] if paths else []
    if not staged:
        await _git_ok(["add", "-A", *only], cwd=wt.path, env=env, what="git add")
    committed = await _git(
        ["commit", "--no-verify", "-q", "-m", message or "clawboo: task changes", *only],
        cwd=wt.path,
        env=env,
        commit=True,
    )
    if not committed.ok:
        # "nothing to commit" is exit code 1 with an index equal to HEAD; anything else fails
        unchanged = await _git(["diff", "--cached", "--quiet", "HEAD", *only], cwd=wt.path, env=env)
        if committed.returncode == 1 and unchanged.returncode == 0:
            return None
        raise WorktreeError(f"git commit failed: {_why(committed)}")
    sha, current = await _checkout_head(wt.path, env)
    # The agent may have switched branches in its checkout: bring the task branch along
    # when that is a fast-forward, so the work is on clawboo/task-<id> either way.
    if current != f"refs/heads/{wt.branch}":
        ancestor = await _git(
            ["merge-base", "--is-ancestor", f"refs/heads/{wt.branch}", sha], cwd=wt.path, env=env
        )
        if not ancestor.ok:
            raise WorktreeError(
                f"committed {sha[:12]} but the checkout is not on {wt.branch} and that branch "
                "cannot be fast-forwarded to it"
            )
        await _git_ok(
            ["update-ref", f"refs/heads/{wt.branch}", sha],
            cwd=wt.path,
            env=env,
            what=f"git update-ref {wt.branch}",
        )
    return sha


async def _checkout_head(path: Path, env: Mapping[str, str] | None) -> tuple[str, str]:
    """``(commit, symbolic ref or "HEAD" when detached)`` of the checkout at ``path``."""
    try:
        sha, ref = git_objects.head(*git_objects.git_dirs(path))
        if sha:
            return sha, ref or "HEAD"
    except (git_objects.Unsupported, OSError, UnicodeDecodeError):
        pass
    head = await _git_ok(
        ["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"],
        cwd=path,
        env=env,
        what="git rev-parse HEAD",
    )
    sha, current = (head.stdout.splitlines() + ["", ""])[:2]
    return sha.strip(), current.strip()


async def remove(wt: Worktree, env: Mapping[str, str] | None, *, delete_branch: bool) -> None:
    """Remove the checkout (registration and directory) and, with ``delete_branch``, its
    branch. Best effort: a git failure never leaves the directory behind, and never raises."""
    path = Path(wt.path)
    repo = Path(wt.repo_path)
    real = os.path.realpath(path)
    if _is_within(os.path.realpath(repo), real):
        raise WorktreeError(f"refusing to delete {path}: it holds the repository {repo}")
    repo_key = await _repo_key(repo, env)
    async with _locked(_path_locks, _path_key(path)), _locked(_repo_locks, repo_key):
        if repo.is_dir():
            await _git(["worktree", "remove", "--force", os.fspath(path)], cwd=repo, env=env)
        await _rmtree(path)
        if repo.is_dir():
            await _git(["worktree", "prune"], cwd=repo, env=env)
            if delete_branch:
                await _git(["branch", "-D", wt.branch], cwd=repo, env=env)
