"""``FsChanges``: inotify on real files, dirs, missing paths and symlinks."""

from __future__ import annotations

import os
import sys

import pytest

from clawboo_host.fs_changes import FsChanges

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")


@pytest.fixture
def watcher():
    changes = FsChanges.open()
    assert changes is not None
    yield changes
    changes.close()


def test_a_file_written_in_place_replaced_or_chmoded_is_a_change(tmp_path, watcher):
    keys = tmp_path / "keys.json"
    keys.write_text("{}")
    assert watcher.add([str(keys)]) == []
    assert not watcher.changed()
    with open(keys, "a") as fh:  # in place: the directory's listing does not change
        fh.write(" ")
    assert watcher.changed()
    assert not watcher.changed()  # drained
    (tmp_path / "new.json").write_text("{}")
    os.replace(tmp_path / "new.json", keys)
    assert watcher.changed()
    keys.chmod(0o600)
    assert watcher.changed()


def test_an_entry_made_in_a_watched_dir_is_a_change(tmp_path, watcher):
    assert watcher.add([str(tmp_path)]) == []
    (tmp_path / "codex").write_text("#!/bin/sh\n")
    assert watcher.changed()


def test_a_missing_path_is_seen_appearing_through_the_dir_above_it(tmp_path, watcher):
    missing = tmp_path / "home" / ".local" / "bin"
    assert watcher.add([str(missing)]) == []
    (tmp_path / "unrelated").mkdir()  # any entry made there counts (the caller re-stats)
    assert watcher.changed()
    (tmp_path / "home").mkdir()
    assert watcher.changed()


def test_a_symlink_is_left_to_the_caller(tmp_path, watcher):
    target = tmp_path / "target"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    inside = link / "file"
    inside.write_text("x")
    assert watcher.add([str(link), str(inside)]) == [str(link), str(inside)]


def test_a_closed_watcher_reports_a_change_rather_than_failing(tmp_path):
    changes = FsChanges.open()
    changes.add([str(tmp_path)])
    changes.close()
    assert changes.changed()
