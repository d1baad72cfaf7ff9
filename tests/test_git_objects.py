"""The in-process git reader/writer, checked object by object against git itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clawboo_host.git_objects import (
    ObjectStore,
    Unsupported,
    create_ref,
    git_dirs,
    head,
    read_ref,
    tree_with_files,
    write_commit,
)
from clawboo_host.testing.helpers import git, make_git_repo


def cat_file(repo: Path, sha: str) -> tuple[bytes, bytes]:
    kind = git(repo, "cat-file", "-t", sha).encode()
    body = subprocess.run(
        ["git", "-C", str(repo), "cat-file", kind.decode(), sha], capture_output=True, check=True
    ).stdout
    return kind, body


def history(repo: Path, revisions: int = 40) -> Path:
    """A repository whose files change a little at every commit: packing it makes deltas."""
    make_git_repo(repo)
    (repo / "src").mkdir()
    for i in range(revisions):
        text = "".join(f"line {n} {'changed' if n == i else ''}\n" for n in range(200))
        (repo / "src" / "module.py").write_text(text)
        (repo / f"file-{i % 7}.txt").write_text(f"revision {i}\n" * 50)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"revision {i}")
    return repo


def every_object(repo: Path) -> list[str]:
    listing = git(repo, "rev-list", "--objects", "--all")
    return [line.split()[0] for line in listing.splitlines()]


def assert_reads_like_git(repo: Path) -> None:
    _, common = git_dirs(repo)
    with ObjectStore(common) as store:
        for sha in every_object(repo):
            assert store.read(sha) == cat_file(repo, sha), sha


def test_loose_objects_read_like_git(tmp_path: Path) -> None:
    assert_reads_like_git(history(tmp_path / "repo", revisions=5))


@pytest.mark.parametrize("offset_deltas", [True, False], ids=["ofs-delta", "ref-delta"])
def test_packed_deltified_objects_read_like_git(tmp_path: Path, offset_deltas: bool) -> None:
    repo = history(tmp_path / "repo")
    git(repo, "-c", f"repack.useDeltaBaseOffset={str(offset_deltas).lower()}", "repack", "-adfq")
    assert not list((repo / ".git" / "objects").glob("??/*")), "everything is packed"
    verify = git(repo, "verify-pack", "-v", *map(str, (repo / ".git/objects/pack").glob("*.idx")))
    assert "chain length" in verify, "the pack holds deltas"
    assert_reads_like_git(repo)


def test_objects_of_an_alternate_are_read(tmp_path: Path) -> None:
    origin = history(tmp_path / "origin", revisions=3)
    git(origin, "repack", "-adq")
    subprocess.run(
        ["git", "clone", "-q", "--shared", str(origin), str(tmp_path / "clone")], check=True
    )
    assert_reads_like_git(tmp_path / "clone")


def test_an_object_that_does_not_hash_to_its_name_is_refused(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    sha = git(repo, "rev-parse", "HEAD")
    path = repo / ".git" / "objects" / sha[:2] / sha[2:]
    path.chmod(0o644)
    blob = git(repo, "rev-parse", "HEAD:README.md")
    path.write_bytes((repo / ".git" / "objects" / blob[:2] / blob[2:]).read_bytes())
    with ObjectStore(repo / ".git") as store, pytest.raises(Unsupported, match="hash"):
        store.read(sha)


def test_missing_objects_and_sha256_names_are_unsupported(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    with ObjectStore(repo / ".git") as store:
        with pytest.raises(Unsupported, match="not found"):
            store.read("0" * 40)
        with pytest.raises(Unsupported, match="SHA-1"):
            store.read("0" * 64)


def test_refs_loose_packed_symbolic_and_per_worktree(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "loose")
    git(repo, "branch", "packed")
    git(repo, "pack-refs", "--all")
    git(repo, "branch", "-f", "loose")  # written again, loose, after the packing
    gitdir, common = git_dirs(repo)
    assert read_ref(gitdir, common, "refs/heads/packed") == sha
    assert read_ref(gitdir, common, "refs/heads/loose") == sha
    assert read_ref(gitdir, common, "refs/heads/absent") is None
    assert read_ref(gitdir, common, "refs/heads") is None  # a directory is no ref
    assert head(gitdir, common) == (sha, "refs/heads/main")

    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "--detach", str(linked))
    lgitdir, lcommon = git_dirs(linked)
    assert lcommon == common and lgitdir != gitdir
    assert head(lgitdir, lcommon) == (sha, None)
    git(linked, "switch", "-q", "-c", "side")
    git(linked, "commit", "-q", "--allow-empty", "-m", "side")
    assert head(lgitdir, lcommon) == (git(linked, "rev-parse", "HEAD"), "refs/heads/side")
    assert head(gitdir, common) == (sha, "refs/heads/main")  # each checkout its own HEAD

    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, "init", "-q", "-b", "trunk")
    assert head(*git_dirs(unborn)) == (None, "refs/heads/trunk")


def test_reftable_and_non_repositories_are_unsupported(tmp_path: Path) -> None:
    with pytest.raises(Unsupported):
        git_dirs(tmp_path)
    repo = make_git_repo(tmp_path / "repo")
    (repo / ".git" / "reftable").mkdir()
    with pytest.raises(Unsupported, match="reftable"):
        git_dirs(repo)


def test_git_dirs_answers_again_until_the_checkout_or_repository_changes(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    first = git_dirs(linked)
    assert git_dirs(linked) == first  # remembered
    assert first[1] == (repo / ".git").resolve()
    # The linked checkout now points at another registration: its .git file changed.
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "-b", "side2", str(other))
    (linked / ".git").write_text((other / ".git").read_text())
    assert git_dirs(linked)[0] == git_dirs(other)[0]
    # The shared repository moved to reftable refs: its common dir changed.
    (repo / ".git" / "reftable").mkdir()
    with pytest.raises(Unsupported, match="reftable"):
        git_dirs(linked)


def test_a_commit_written_here_is_one_git_accepts(tmp_path: Path) -> None:
    repo = history(tmp_path / "repo", revisions=3)
    (repo / "TASK.md").mkdir()  # a directory of a name the new files replace
    (repo / "TASK.md" / "old").write_text("old\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a TASK.md directory")
    git(repo, "repack", "-adq")
    parent = git(repo, "rev-parse", "HEAD")
    files = {
        "TASK.md": (0o100644, b"# Task\n"),
        "init.sh": (0o100755, b"#!/bin/sh\n"),
        "a-": (0o100644, b"x"),
    }
    _, common = git_dirs(repo)
    with ObjectStore(common) as store:
        tree = tree_with_files(store, parent, files)
        commit = write_commit(
            store, tree, [parent], "clawboo: scaffold task t1", "clawboo <clawboo@localhost>"
        )
    git(repo, "fsck", "--strict", "--no-dangling")
    assert git(repo, "log", "-1", "--format=%P|%an <%ae>|%cn|%s", commit) == (
        f"{parent}|clawboo <clawboo@localhost>|clawboo|clawboo: scaffold task t1"
    )
    listing = git(repo, "ls-tree", commit)
    assert "100755 blob" in listing.split("init.sh")[0].splitlines()[-1]
    # the parent's tree, the "src" directory sorted in git's order, plus the three files
    names = git(repo, "ls-tree", "--name-only", commit).splitlines()
    expected = git(repo, "ls-tree", "--name-only", parent).splitlines()
    assert names == sorted({*expected, "init.sh", "a-"}, key=lambda n: n + "/" if n == "src" else n)
    assert git(repo, "show", f"{commit}:TASK.md") == "# Task"
    assert git(repo, "diff", "--stat", parent, commit, "--", "src", "README.md") == ""


def test_create_ref_writes_a_branch_git_sees_and_never_clobbers(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    sha = git(repo, "rev-parse", "HEAD")
    common = repo / ".git"
    assert create_ref(common, "refs/heads/clawboo/task-1", sha) is True
    assert git(repo, "rev-parse", "clawboo/task-1") == sha
    assert create_ref(common, "refs/heads/clawboo/task-1", sha) is False  # exists
    git(repo, "branch", "packed/x")
    git(repo, "pack-refs", "--all")
    assert create_ref(common, "refs/heads/packed/x", sha) is False  # exists, packed
    assert create_ref(common, "refs/heads/packed/x/y", sha) is False  # clashes with packed/x
    assert create_ref(common, "refs/heads/packed", sha) is False  # clashes with packed/x
    assert create_ref(common, "refs/heads/main/sub", sha) is False  # main is a file
    (common / "refs" / "heads" / "held.lock").write_text("")
    assert create_ref(common, "refs/heads/held", sha) is False  # git holds the lock
    assert git(repo, "branch", "--list", "held") == ""
    git(repo, "fsck", "--strict", "--no-dangling")
