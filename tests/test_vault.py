"""The encrypted vault: reference file format, fail-closed reads, modes, locking."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clawboo_host.vault import (
    BOOT_SENTINEL_NAME,
    UNREADABLE_FLAGS_MESSAGE,
    Vault,
    VaultError,
    VaultKeyError,
    decode_master_key,
)

ENV_KEY_MESSAGE = (
    "CLAWBOO_SECRETS_MASTER_KEY must be a 32-byte key — supply it as base64, "
    "64 hexadecimal characters, or a 32-character string."
)
SECRET = "sk-ant-test-0123456789"
KEY = bytes(range(32))  # a fixed, obviously-fake master key


@pytest.fixture(autouse=True)
def _no_ambient_master_key(monkeypatch):
    monkeypatch.delenv("CLAWBOO_SECRETS_MASTER_KEY", raising=False)


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "secrets"


@pytest.fixture
def vault(secrets_dir: Path) -> Vault:
    return Vault(secrets_dir)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_entries(vault: Vault) -> dict:
    return json.loads(vault.keys_path.read_text())


def write_entries(vault: Vault, entries: dict) -> None:
    vault.keys_path.write_text(json.dumps(entries, indent=2))


# ── round trip and file format ──────────────────────────────────────────────────


def test_round_trip(vault: Vault):
    vault.set("ANTHROPIC_API_KEY", SECRET)
    assert vault.get("ANTHROPIC_API_KEY") == SECRET
    assert vault.get("OPENAI_API_KEY") is None


def test_round_trip_unicode_and_empty(vault: Vault):
    vault.set("A_KEY", "pässwörd-✓-value")
    vault.set("EMPTY_KEY", "")
    assert vault.get("A_KEY") == "pässwörd-✓-value"
    assert vault.get("EMPTY_KEY") == ""


def test_value_is_not_trimmed(vault: Vault):
    vault.set("A_KEY", "  spaced value \n")
    assert vault.get("A_KEY") == "  spaced value \n"


def test_vault_file_has_reference_shape(vault: Vault):
    vault.set("ANTHROPIC_API_KEY", SECRET)
    text = vault.keys_path.read_text()
    entries = json.loads(text)
    assert text == json.dumps(entries, indent=2)  # 2-space pretty-print, like JSON.stringify
    assert not text.endswith("\n")
    entry = entries["ANTHROPIC_API_KEY"]
    assert set(entry) == {"iv", "tag", "ciphertext"}
    assert all(isinstance(v, str) for v in entry.values())
    assert len(base64.b64decode(entry["iv"], validate=True)) == 12
    assert len(base64.b64decode(entry["tag"], validate=True)) == 16
    # GCM is a stream mode: the ciphertext (tag split off) is as long as the plaintext.
    assert len(base64.b64decode(entry["ciphertext"], validate=True)) == len(SECRET.encode())


def test_fresh_iv_per_write(vault: Vault):
    vault.set("A_KEY", SECRET)
    first = read_entries(vault)["A_KEY"]
    vault.set("A_KEY", SECRET)
    second = read_entries(vault)["A_KEY"]
    assert first["iv"] != second["iv"]
    assert first["ciphertext"] != second["ciphertext"]


def test_plaintext_never_on_disk(vault: Vault):
    vault.set("ANTHROPIC_API_KEY", SECRET)
    vault.set("OPENAI_API_KEY", SECRET + "-second")
    vault.set_disconnected("codex", True)
    needles = [SECRET.encode(), b"0123456789", base64.b64encode(SECRET.encode())]
    files = [p for p in vault.dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "master.key",
        "runtime-keys.json",
        "disconnected-runtimes.json",
    }
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"plaintext found in {path.name}"


def test_reads_value_written_by_an_independent_gcm_implementation(vault: Vault, secrets_dir):
    """Interop: a reference-style entry (separate tag, no AAD) written without our code."""
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "master.key").write_text(base64.b64encode(KEY).decode())
    iv = bytes(12)
    encryptor = Cipher(algorithms.AES(KEY), modes.GCM(iv)).encryptor()
    ciphertext = encryptor.update(SECRET.encode()) + encryptor.finalize()
    write_entries(
        vault,
        {
            "ANTHROPIC_API_KEY": {
                "iv": base64.b64encode(iv).decode(),
                "tag": base64.b64encode(encryptor.tag).decode(),
                "ciphertext": base64.b64encode(ciphertext).decode(),
            }
        },
    )
    assert vault.get("ANTHROPIC_API_KEY") == SECRET


def test_written_value_decrypts_with_an_independent_gcm_implementation(vault: Vault, secrets_dir):
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "master.key").write_text(base64.b64encode(KEY).decode())
    vault.set("ANTHROPIC_API_KEY", SECRET)
    entry = read_entries(vault)["ANTHROPIC_API_KEY"]
    iv, tag, ct = (base64.b64decode(entry[k]) for k in ("iv", "tag", "ciphertext"))
    decryptor = Cipher(algorithms.AES(KEY), modes.GCM(iv, tag)).decryptor()
    assert (decryptor.update(ct) + decryptor.finalize()).decode() == SECRET


# ── presence, delete, names ─────────────────────────────────────────────────────


def test_has_and_delete(vault: Vault):
    assert vault.has("A_KEY") is False
    vault.set("A_KEY", SECRET)
    assert vault.has("A_KEY") is True
    assert vault.delete("A_KEY") is True
    assert vault.has("A_KEY") is False
    assert vault.get("A_KEY") is None
    assert vault.delete("A_KEY") is False


def test_has_does_not_decrypt(vault: Vault, monkeypatch):
    vault.set("A_KEY", SECRET)
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "k" * 32)  # a different key
    assert vault.get("A_KEY") is None
    assert vault.has("A_KEY") is True


def test_delete_needs_no_master_key(vault: Vault, monkeypatch):
    vault.set("A_KEY", SECRET)
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")
    assert vault.delete("A_KEY") is True
    assert vault.has("A_KEY") is False


def test_names_in_file_order(vault: Vault):
    for name in ("B_KEY", "A_KEY", "C_KEY"):
        vault.set(name, SECRET)
    assert vault.names() == ["B_KEY", "A_KEY", "C_KEY"]
    vault.delete("A_KEY")
    assert vault.names() == ["B_KEY", "C_KEY"]


def test_set_rejects_bad_arguments(vault: Vault):
    with pytest.raises(ValueError):
        vault.set("", SECRET)
    with pytest.raises(TypeError):
        vault.set("A_KEY", None)  # type: ignore[arg-type]
    assert not vault.keys_path.exists()


# ── fail-closed reads ───────────────────────────────────────────────────────────


def test_rotated_env_master_key_reads_none(vault: Vault, monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "a" * 64)
    vault.set("A_KEY", SECRET)
    assert vault.get("A_KEY") == SECRET
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "b" * 64)
    assert vault.get("A_KEY") is None


def test_wrong_key_file_reads_none(vault: Vault):
    vault.set("A_KEY", SECRET)
    vault.master_key_path.write_text(base64.b64encode(b"\x01" * 32).decode())
    assert vault.get("A_KEY") is None


def test_flipped_ciphertext_byte_reads_none(vault: Vault):
    vault.set("A_KEY", SECRET)
    entries = read_entries(vault)
    ct = bytearray(base64.b64decode(entries["A_KEY"]["ciphertext"]))
    ct[0] ^= 0x01
    entries["A_KEY"]["ciphertext"] = base64.b64encode(bytes(ct)).decode()
    write_entries(vault, entries)
    assert vault.get("A_KEY") is None


def test_flipped_tag_byte_reads_none(vault: Vault):
    vault.set("A_KEY", SECRET)
    entries = read_entries(vault)
    tag = bytearray(base64.b64decode(entries["A_KEY"]["tag"]))
    tag[-1] ^= 0x80
    entries["A_KEY"]["tag"] = base64.b64encode(bytes(tag)).decode()
    write_entries(vault, entries)
    assert vault.get("A_KEY") is None


def test_truncated_tag_reads_none(vault: Vault):
    vault.set("A_KEY", SECRET)
    entries = read_entries(vault)
    tag = base64.b64decode(entries["A_KEY"]["tag"])
    entries["A_KEY"]["tag"] = base64.b64encode(tag[:8]).decode()
    write_entries(vault, entries)
    assert vault.get("A_KEY") is None


def test_truncated_tag_is_rejected_even_when_gcm_would_accept_it(vault: Vault, secrets_dir):
    """A valid-but-short 8-byte GCM tag (forgeable) must not be accepted."""
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "master.key").write_text(base64.b64encode(KEY).decode())
    iv = bytes(12)
    encryptor = Cipher(algorithms.AES(KEY), modes.GCM(iv)).encryptor()
    ciphertext = encryptor.update(SECRET.encode()) + encryptor.finalize()
    short_tag = encryptor.tag[:8]
    # Sanity: a GCM decryptor configured for 8-byte tags does accept it.
    dec = Cipher(algorithms.AES(KEY), modes.GCM(iv, short_tag, min_tag_length=8)).decryptor()
    assert dec.update(ciphertext) + dec.finalize() == SECRET.encode()
    write_entries(
        vault,
        {
            "A_KEY": {
                "iv": base64.b64encode(iv).decode(),
                "tag": base64.b64encode(short_tag).decode(),
                "ciphertext": base64.b64encode(ciphertext).decode(),
            }
        },
    )
    assert vault.get("A_KEY") is None


@pytest.mark.parametrize("iv_len", [0, 8, 11, 13, 16])
def test_wrong_iv_length_reads_none(vault: Vault, secrets_dir, iv_len: int):
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "master.key").write_text(base64.b64encode(KEY).decode())
    iv = bytes(iv_len) if iv_len else b""
    if iv_len >= 8:
        sealed = AESGCM(KEY).encrypt(iv, SECRET.encode(), None)  # valid GCM with odd IV
    else:
        sealed = bytes(len(SECRET) + 16)
    write_entries(
        vault,
        {
            "A_KEY": {
                "iv": base64.b64encode(iv).decode(),
                "tag": base64.b64encode(sealed[-16:]).decode(),
                "ciphertext": base64.b64encode(sealed[:-16]).decode(),
            }
        },
    )
    assert vault.get("A_KEY") is None


def test_garbage_base64_reads_none(vault: Vault):
    vault.set("A_KEY", SECRET)
    entries = read_entries(vault)
    entries["A_KEY"]["iv"] = "!!!not base64!!!"
    write_entries(vault, entries)
    assert vault.get("A_KEY") is None


@pytest.mark.parametrize(
    "content", ["", "not json", "[1, 2]", "null", "42", '"a string"', '{"A_KEY": "flat"}']
)
def test_unparseable_or_foreign_file_reads_empty(vault: Vault, content: str):
    vault.dir.mkdir(parents=True)
    vault.keys_path.write_text(content)
    assert vault.get("A_KEY") is None
    assert vault.has("A_KEY") is False
    assert vault.names() == []
    # and a write recovers, replacing the junk with a proper object
    vault.set("A_KEY", SECRET)
    assert vault.get("A_KEY") == SECRET
    assert list(read_entries(vault)) == ["A_KEY"]


def test_keys_path_being_a_directory_reads_none(vault: Vault):
    vault.keys_path.mkdir(parents=True)
    assert vault.get("A_KEY") is None
    assert vault.names() == []


def test_malformed_entries_dropped_and_unknown_entries_preserved(vault: Vault):
    vault.set(BOOT_SENTINEL_NAME, "clawboo-boot-sentinel-v1")
    sentinel = read_entries(vault)[BOOT_SENTINEL_NAME]
    entries = read_entries(vault)
    entries["MISSING_TAG"] = {"iv": "AAAA", "ciphertext": "AAAA"}
    entries["NUMERIC_IV"] = {"iv": 1, "tag": "AAAA", "ciphertext": "AAAA"}
    entries["NOT_AN_OBJECT"] = ["iv", "tag", "ciphertext"]
    write_entries(vault, entries)

    assert vault.names() == [BOOT_SENTINEL_NAME]
    for name in ("MISSING_TAG", "NUMERIC_IV", "NOT_AN_OBJECT"):
        assert vault.has(name) is False
        assert vault.get(name) is None

    vault.set("A_KEY", SECRET)
    after = read_entries(vault)
    assert after[BOOT_SENTINEL_NAME] == sentinel  # byte-identical, untouched
    assert set(after) == {BOOT_SENTINEL_NAME, "A_KEY"}
    assert vault.get(BOOT_SENTINEL_NAME) == "clawboo-boot-sentinel-v1"


def test_get_never_raises_on_invalid_env_key(vault: Vault, monkeypatch):
    vault.set("A_KEY", SECRET)
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")
    assert vault.get("A_KEY") is None


def test_get_never_raises_on_invalid_key_file(vault: Vault):
    vault.set("A_KEY", SECRET)
    vault.master_key_path.write_text("garbage")
    assert vault.get("A_KEY") is None


# ── master key ──────────────────────────────────────────────────────────────────


def test_absent_entry_read_creates_nothing(vault: Vault, secrets_dir: Path):
    assert vault.get("A_KEY") is None
    assert vault.has("A_KEY") is False
    assert vault.is_disconnected("codex") is False
    assert not secrets_dir.exists()


def test_present_entry_without_any_key_reads_none_and_creates_no_key(vault: Vault):
    vault.set("A_KEY", SECRET)
    vault.master_key_path.unlink()
    assert vault.get("A_KEY") is None
    assert not vault.master_key_path.exists()


def test_generated_key_file_format(vault: Vault):
    vault.set("A_KEY", SECRET)
    raw = vault.master_key_path.read_bytes()
    assert not raw.endswith(b"\n")
    assert len(raw) == 44  # standard padded base64 of 32 bytes
    assert len(base64.b64decode(raw, validate=True)) == 32
    assert list(vault.dir.glob("master.key.*")) == []  # no temp file left behind


def test_existing_key_file_is_used_not_overwritten(vault: Vault, secrets_dir: Path):
    secrets_dir.mkdir(parents=True)
    original = base64.b64encode(KEY).decode()
    (secrets_dir / "master.key").write_text(original + "\n")  # trailing newline is trimmed
    vault.set("A_KEY", SECRET)
    assert vault.master_key_path.read_text() == original + "\n"
    entry = read_entries(vault)["A_KEY"]
    iv, tag, ct = (base64.b64decode(entry[k]) for k in ("iv", "tag", "ciphertext"))
    assert AESGCM(KEY).decrypt(iv, ct + tag, None).decode() == SECRET


def test_env_key_takes_precedence_over_file(vault: Vault, monkeypatch):
    vault.set("A_KEY", SECRET)  # generates a key file
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", KEY.hex())
    assert vault.get("A_KEY") is None  # env key wins, and it's a different key
    vault.set("B_KEY", SECRET)
    assert vault.get("B_KEY") == SECRET
    monkeypatch.delenv("CLAWBOO_SECRETS_MASTER_KEY")
    assert vault.get("A_KEY") == SECRET
    assert vault.get("B_KEY") is None


def test_env_key_alone_creates_no_key_file(vault: Vault, monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", KEY.hex())
    vault.set("A_KEY", SECRET)
    assert not vault.master_key_path.exists()
    assert vault.get("A_KEY") == SECRET


def test_blank_env_key_falls_back_to_file(vault: Vault, monkeypatch):
    vault.set("A_KEY", SECRET)
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "   \t")
    assert vault.get("A_KEY") == SECRET
    vault.set("B_KEY", SECRET)
    assert vault.get("B_KEY") == SECRET


def test_same_key_in_every_encoding_is_interchangeable(vault: Vault, monkeypatch):
    raw32 = "0123456789abcdefghijklmnopqrstuv"
    key = raw32.encode()
    encodings = [
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        base64.b64encode(key).decode().rstrip("="),
        base64.urlsafe_b64encode(key).decode(),
        raw32,
        f"  {raw32}\n",
    ]
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", encodings[0])
    vault.set("A_KEY", SECRET)
    for encoded in encodings:
        monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", encoded)
        assert vault.get("A_KEY") == SECRET, encoded


def test_explicit_env_mapping_is_used_instead_of_os_environ(secrets_dir: Path, monkeypatch):
    env = {"CLAWBOO_SECRETS_MASTER_KEY": KEY.hex()}
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")  # ignored
    vault = Vault(secrets_dir, env=env)
    vault.set("A_KEY", SECRET)
    assert vault.get("A_KEY") == SECRET
    assert not vault.master_key_path.exists()


def test_env_is_read_live(vault: Vault, monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")
    with pytest.raises(VaultKeyError):
        vault.set("A_KEY", SECRET)
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", KEY.hex())
    vault.set("A_KEY", SECRET)
    assert vault.get("A_KEY") == SECRET


def test_invalid_env_key_write_throws_exact_message(vault: Vault, monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")
    with pytest.raises(VaultKeyError, match="CLAWBOO_SECRETS_MASTER_KEY") as info:
        vault.set("A_KEY", SECRET)
    assert str(info.value) == ENV_KEY_MESSAGE
    assert not vault.keys_path.exists()
    assert not vault.master_key_path.exists()


@pytest.mark.parametrize("content", ["not-a-key", "", base64.b64encode(KEY).decode()[:20]])
def test_invalid_key_file_write_throws_without_a_path(vault: Vault, content: str):
    vault.dir.mkdir(parents=True)
    vault.master_key_path.write_text(content)
    with pytest.raises(VaultKeyError) as info:
        vault.set("A_KEY", SECRET)
    assert str(info.value).startswith("The vault's master key file is unreadable")
    assert str(vault.dir) not in str(info.value) and "/" not in str(info.value)
    assert vault.master_key_path.read_text() == content  # never replaced
    assert not vault.keys_path.exists()


def test_non_utf8_key_file_is_unreadable(vault: Vault):
    vault.dir.mkdir(parents=True)
    vault.master_key_path.write_bytes(b"\xff" * 32)
    with pytest.raises(VaultKeyError, match="master key file is unreadable"):
        vault.set("A_KEY", SECRET)


def test_a_key_file_or_store_that_is_a_directory_is_a_vault_error(vault: Vault):
    vault.master_key_path.mkdir(parents=True)
    with pytest.raises(VaultKeyError, match="master key file is unreadable"):
        vault.set("A_KEY", SECRET)
    vault.master_key_path.rmdir()
    vault.keys_path.mkdir()
    with pytest.raises(VaultError) as info:
        vault.set("A_KEY", SECRET)
    assert "/" not in str(info.value)
    assert vault.keys_path.is_dir() and vault.get("A_KEY") is None
    assert [p.name for p in vault.dir.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00" * 32, bytes(32)),
        ("  " + "ff" * 32 + "\n", b"\xff" * 32),
        ("0123456789abcdefghijklmnopqrstuv", b"0123456789abcdefghijklmnopqrstuv"),
        ("é" * 16, ("é" * 16).encode()),  # 16 chars, 32 UTF-8 bytes → raw
        (base64.b64encode(KEY).decode(), KEY),
        (base64.b64encode(KEY).decode().rstrip("="), KEY),
        (base64.urlsafe_b64encode(b"\xfb" * 32).decode(), b"\xfb" * 32),
        # 32 chars is used raw even though it is also valid base64 (of 24 bytes)
        ("A" * 32, b"A" * 32),
    ],
)
def test_decode_master_key_accepts(raw: str, expected: bytes):
    assert decode_master_key(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "too-short",
        "0" * 63,
        "0" * 65,
        "g" * 64,  # 64 chars, not hex, not 32 bytes, not base64 of 32 bytes
        "x" * 31,
        "x" * 33,
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        base64.b64encode(KEY).decode() + "!",
    ],
)
def test_decode_master_key_rejects(raw: str):
    assert decode_master_key(raw) is None


# ── modes and atomic writes ─────────────────────────────────────────────────────


def test_permissions(vault: Vault):
    vault.set("A_KEY", SECRET)
    vault.set_disconnected("codex", True)
    assert mode(vault.dir) == 0o700
    assert mode(vault.master_key_path) == 0o600
    assert mode(vault.keys_path) == 0o600
    assert mode(vault.disconnected_path) == 0o600


def test_permissions_under_permissive_umask(vault: Vault):
    old = os.umask(0)
    try:
        vault.set("A_KEY", SECRET)
    finally:
        os.umask(old)
    assert mode(vault.dir) == 0o700
    assert mode(vault.master_key_path) == 0o600
    assert mode(vault.keys_path) == 0o600


def test_dir_mode_is_reasserted_on_every_write(vault: Vault):
    vault.set("A_KEY", SECRET)
    os.chmod(vault.dir, 0o755)
    os.chmod(vault.keys_path, 0o644)
    vault.set("B_KEY", SECRET)
    assert mode(vault.dir) == 0o700
    assert mode(vault.keys_path) == 0o600


def test_stale_world_readable_tmp_is_not_reused(vault: Vault):
    vault.dir.mkdir(parents=True)
    stale = vault.dir / "runtime-keys.json.tmp"
    stale.write_text("stale")
    os.chmod(stale, 0o644)
    vault.set("A_KEY", SECRET)
    assert not stale.exists()
    assert mode(vault.keys_path) == 0o600
    assert vault.get("A_KEY") == SECRET


def test_no_tmp_files_left_behind(vault: Vault):
    for i in range(3):
        vault.set(f"K{i}_KEY", SECRET)
    vault.set_disconnected("codex", True)
    vault.delete("K0_KEY")
    assert sorted(p.name for p in vault.dir.iterdir()) == [
        ".lock",
        "disconnected-runtimes.json",
        "master.key",
        "runtime-keys.json",
    ]


def test_write_replaces_file_atomically(vault: Vault):
    """A reader holding the old file sees a complete old version (rename, not rewrite)."""
    vault.set("A_KEY", SECRET)
    old_inode = vault.keys_path.stat().st_ino
    with open(vault.keys_path) as held:
        vault.set("B_KEY", SECRET)
        assert set(json.load(held)) == {"A_KEY"}
    assert vault.keys_path.stat().st_ino != old_inode
    assert set(read_entries(vault)) == {"A_KEY", "B_KEY"}


# ── disconnect flags ────────────────────────────────────────────────────────────


def test_disconnect_flag_round_trip(vault: Vault):
    assert vault.is_disconnected("clawboo-native") is False
    vault.set_disconnected("clawboo-native", True)
    assert vault.is_disconnected("clawboo-native") is True
    assert vault.is_disconnected("claude-code") is False
    text = vault.disconnected_path.read_text()
    assert json.loads(text) == {"clawboo-native": True}
    assert text == '{\n  "clawboo-native": true\n}'
    vault.set_disconnected("clawboo-native", False)
    assert vault.is_disconnected("clawboo-native") is False
    assert json.loads(vault.disconnected_path.read_text()) == {}


def test_disconnect_flag_needs_no_master_key(vault: Vault, monkeypatch):
    monkeypatch.setenv("CLAWBOO_SECRETS_MASTER_KEY", "too-short")
    vault.set_disconnected("codex", True)
    assert vault.is_disconnected("codex") is True
    assert not vault.master_key_path.exists()


def test_only_true_counts_in_disconnect_file(vault: Vault):
    vault.dir.mkdir(parents=True)
    vault.disconnected_path.write_text(
        json.dumps({"a": True, "b": "true", "c": 1, "d": False, "e": None, "f": {"x": True}})
    )
    assert [r for r in "abcdef" if vault.is_disconnected(r)] == ["a"]
    vault.set_disconnected("g", True)
    assert json.loads(vault.disconnected_path.read_text()) == {"a": True, "g": True}


@pytest.mark.parametrize("content", ["", '{"codex": tr', "nope", "[]", "true", "null"])
def test_an_unreadable_disconnect_file_fails_closed(vault: Vault, content: str, caplog):
    vault.dir.mkdir(parents=True)
    vault.disconnected_path.write_text(content)
    with caplog.at_level("WARNING", logger="clawboo_host.vault"):
        assert vault.is_disconnected("codex") is True
        assert vault.is_disconnected("anything") is True
    assert vault.disconnect_flags_readable() is False
    assert [r.getMessage() for r in caplog.records] == [UNREADABLE_FLAGS_MESSAGE]  # once
    # A write rewrites it with every runtime it might have listed still flagged.
    vault.set_disconnected("codex", False, fail_closed_ids=["codex", "hermes"])
    assert json.loads(vault.disconnected_path.read_text()) == {"hermes": True}
    assert vault.disconnect_flags_readable() and not vault.is_disconnected("codex")


def test_a_disconnect_file_that_is_a_directory_fails_closed(vault: Vault):
    vault.disconnected_path.mkdir(parents=True)
    assert vault.is_disconnected("codex") is True
    with pytest.raises(VaultError):
        vault.set_disconnected("codex", True, fail_closed_ids=["codex"])
    assert vault.is_disconnected("codex") is True


def test_an_absent_disconnect_file_reads_empty(vault: Vault):
    assert vault.disconnect_flags_readable() and not vault.is_disconnected("codex")


# ── concurrency ─────────────────────────────────────────────────────────────────


def test_concurrent_threads_lose_no_update(vault: Vault):
    names = [f"KEY_{i:02d}_API_KEY" for i in range(20)]
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def connect(name: str) -> None:
        try:
            barrier.wait()
            vault.set(name, f"value-for-{name}")
        except Exception as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=connect, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(vault.names()) == names
    for name in names:
        assert vault.get(name) == f"value-for-{name}"


def test_concurrent_first_writes_on_separate_instances_share_one_key(secrets_dir: Path):
    """Separate Vault objects (separate thread locks) still serialize via flock."""
    vaults = [Vault(secrets_dir) for _ in range(8)]
    barrier = threading.Barrier(len(vaults))

    def connect(i: int) -> None:
        barrier.wait()
        vaults[i].set(f"K{i}_KEY", f"value-{i}")

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(len(vaults))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = Vault(secrets_dir)
    assert sorted(reader.names()) == sorted(f"K{i}_KEY" for i in range(len(vaults)))
    for i in range(len(vaults)):
        assert reader.get(f"K{i}_KEY") == f"value-{i}"


def test_concurrent_processes_lose_no_update(secrets_dir: Path, tmp_path: Path):
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys\n"
        "from clawboo_host.vault import Vault\n"
        "v = Vault(sys.argv[1])\n"
        "for i in range(5):\n"
        "    v.set(f'P{sys.argv[2]}_{i}_KEY', f'value-{sys.argv[2]}-{i}')\n"
        "    v.set_disconnected(f'rt-{sys.argv[2]}-{i}', True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CLAWBOO_SECRETS_MASTER_KEY"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    procs = [
        subprocess.Popen([sys.executable, str(script), str(secrets_dir), str(p)], env=env)
        for p in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    vault = Vault(secrets_dir)
    assert len(vault.names()) == 20
    for p in range(4):
        for i in range(5):
            assert vault.get(f"P{p}_{i}_KEY") == f"value-{p}-{i}"
            assert vault.is_disconnected(f"rt-{p}-{i}")


def test_no_op_writes_create_nothing(vault: Vault, secrets_dir: Path):
    assert vault.delete("A_KEY") is False
    vault.set_disconnected("codex", False)
    assert not secrets_dir.exists()
