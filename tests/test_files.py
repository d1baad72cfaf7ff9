"""Private files and credential seeding for runtime homes."""

import os
import stat

from clawboo_host.plugin_api.files import seed_credential_file, write_private


def usable(path):
    return path.is_file() and path.read_text().startswith("token")


def test_write_private_is_0600_and_atomic(tmp_path):
    target = tmp_path / "conf"
    write_private(target, "one")
    write_private(target, b"two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["conf"]


def test_seeding_copies_the_first_usable_source_and_keeps_a_fresher_copy(tmp_path):
    bad, good, dest = tmp_path / "bad", tmp_path / "good", tmp_path / "home" / "auth"
    dest.parent.mkdir()
    bad.write_text("junk")
    good.write_text("token-1")
    assert seed_credential_file(dest, [tmp_path / "missing", bad, good], usable) is True
    assert dest.read_text() == "token-1" and stat.S_IMODE(dest.stat().st_mode) == 0o600
    # the runtime refreshed its copy: newer than the source, so it is kept
    dest.write_text("token-2")
    os.utime(good, (1, 1))
    assert seed_credential_file(dest, [good], usable) and dest.read_text() == "token-2"
    # the user logged in again: the source is newer, so it replaces the copy
    good.write_text("token-3")
    os.utime(dest, (1, 1))
    assert seed_credential_file(dest, [good], usable) and dest.read_text() == "token-3"
    assert good.read_text() == "token-3"


def test_nothing_usable_anywhere(tmp_path):
    assert seed_credential_file(tmp_path / "auth", [tmp_path / "nope"], usable) is False
    assert not (tmp_path / "auth").exists()
