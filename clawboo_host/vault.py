"""The encrypted provider-key vault, byte-compatible with the reference ``secrets/`` layout.

Each provider key is stored under its env-var name, AES-256-GCM encrypted with a local
master key, so an existing ``~/.clawboo/secrets`` written by the reference server reads here
and vice versa (api-contract §5.1–5.3)::

    secrets/                         0700, re-chmodded every time it is ensured
    secrets/master.key               base64 of 32 random bytes, no newline, 0600
    secrets/runtime-keys.json        {"ENV_NAME": {"iv": b64, "tag": b64, "ciphertext": b64}}
    secrets/disconnected-runtimes.json  {"runtimeId": true}
    secrets/.lock                    inter-process lock for read-modify-write (ours only)

Why the rules below:

* Reads fail closed: a tampered, truncated, foreign or undecryptable entry reads as ``None``
  and never raises into a request path, nor returns partial plaintext. An unreadable
  disconnect-flags file reads as "every runtime disconnected" (ambient keys ignored), never
  as "none disconnected", and is logged.
* Errors never name a file path (they reach HTTP responses): :class:`VaultError` says what
  is wrong in words.
* Writes are atomic (tmp file + ``os.replace``) so a crash never leaves a half-written vault,
  and the read-modify-write cycle holds a thread lock *and* an ``flock`` so two concurrent
  connects (threads or processes) cannot lose each other's update — the reference has no lock.
* Files holding secrets are created ``0600`` from the first byte (never world-readable, even
  briefly), and the master key is published with a hard link so a racing creator either wins
  or reads the winner's complete key, never a half-written one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "BOOT_SENTINEL_NAME",
    "MASTER_KEY_ENV",
    "UNREADABLE_FLAGS_MESSAGE",
    "Vault",
    "VaultError",
    "VaultKeyError",
    "decode_master_key",
]

log = logging.getLogger(__name__)

MASTER_KEY_ENV = "CLAWBOO_SECRETS_MASTER_KEY"
#: The reference server's boot-probe entry; tolerated and preserved like any unknown entry.
BOOT_SENTINEL_NAME = "__clawboo_boot_sentinel__"

MASTER_KEY_FILE = "master.key"
KEYS_FILE = "runtime-keys.json"
DISCONNECTED_FILE = "disconnected-runtimes.json"
LOCK_FILE = ".lock"

IV_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32

_ENV_KEY_MESSAGE = (
    "CLAWBOO_SECRETS_MASTER_KEY must be a 32-byte key — supply it as base64, "
    "64 hexadecimal characters, or a 32-character string."
)
_KEY_FILE_MESSAGE = (
    "The vault's master key file is unreadable (empty, truncated or not a file), so stored "
    "keys cannot be read or written. Restore it, or set CLAWBOO_SECRETS_MASTER_KEY."
)
_STORE_MESSAGE = (
    "The vault's key store cannot be written (its files are not regular files or the "
    "secrets directory is not writable)."
)
#: Why every runtime reads as disconnected; shown in each runtime's health message.
UNREADABLE_FLAGS_MESSAGE = (
    "the vault's disconnect-flags file is unreadable, so every runtime is treated as "
    "disconnected (ambient provider keys are ignored); connect or disconnect a runtime to "
    "rewrite it"
)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


class VaultError(Exception):
    """The vault cannot do a write; the message names no file path (it reaches responses)."""


class VaultKeyError(VaultError):
    """The master key (env var or key file) is unusable; raised on write paths only."""


def decode_master_key(raw: str) -> bytes | None:
    """Decode a master key the way the reference does, or ``None`` if it is not 32 bytes.

    After trimming: exactly 64 hex chars → hex; exactly 32 UTF-8 bytes → the raw bytes;
    base64 (standard or URL-safe, padding optional) decoding to exactly 32 bytes. The order
    matters for interop: a 32-character string is used literally even if it is valid base64.
    """
    text = raw.strip()
    if not text:
        return None
    if _HEX64.fullmatch(text):
        return bytes.fromhex(text)
    encoded = text.encode("utf-8")
    if len(encoded) == KEY_BYTES:
        return encoded
    if not _BASE64.fullmatch(text):
        return None
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if len(decoded) == KEY_BYTES else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Lenient standard/URL-safe base64 decode (Node's ``Buffer.from(s, 'base64')`` is lenient)."""
    body = re.sub(r"\s+", "", text).rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_entry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("iv"), str)
        and isinstance(value.get("tag"), str)
        and isinstance(value.get("ciphertext"), str)
    )


class Vault:
    """Encrypted key/value store for provider keys, one value per env-var name.

    ``env`` is consulted for ``CLAWBOO_SECRETS_MASTER_KEY`` at call time; when omitted it is
    ``os.environ`` looked up live, so a monkeypatched environment takes effect immediately.
    """

    def __init__(self, secrets_dir: str | os.PathLike[str], env: Mapping[str, str] | None = None):
        self.dir = Path(secrets_dir)
        self._env = env
        self._lock = threading.Lock()
        self._flags_unreadable_logged = False

    # ── paths ────────────────────────────────────────────────────────────────────
    @property
    def master_key_path(self) -> Path:
        return self.dir / MASTER_KEY_FILE

    @property
    def keys_path(self) -> Path:
        return self.dir / KEYS_FILE

    @property
    def disconnected_path(self) -> Path:
        return self.dir / DISCONNECTED_FILE

    @property
    def lock_path(self) -> Path:
        return self.dir / LOCK_FILE

    def _environ(self) -> Mapping[str, str]:
        return os.environ if self._env is None else self._env

    # ── public API ───────────────────────────────────────────────────────────────
    def get(self, name: str) -> str | None:
        """The decrypted value, or ``None`` if absent or unreadable for any reason. Never raises.

        An absent entry returns before the master key is touched, so a read never creates a
        key. A present entry with no key anywhere also reads ``None`` without generating one.
        """
        return self.get_many([name]).get(name)

    def get_many(self, names: Iterable[str]) -> dict[str, str]:
        """:meth:`get` for several names with one read of the file and the master key: the
        decrypted values of those present and readable (the others are left out)."""
        try:
            entries = self._read_keys()
            wanted = [(n, entries[n]) for n in dict.fromkeys(names) if n in entries]
            key = self._master_key(create=False) if wanted else None
        except Exception:  # noqa: BLE001 - fail closed: bad key or file reads as absent
            return {}
        values: dict[str, str] = {}
        if key is None:
            return values
        for name, entry in wanted:
            try:
                value = self._decrypt(key, entry)
            except Exception:  # noqa: BLE001 - a bad entry reads as absent
                value = None
            if value is not None:
                values[name] = value
        return values

    def set(self, name: str, value: str) -> None:
        """Encrypt and persist ``value`` under ``name``; raises ``VaultKeyError`` on a bad key."""
        if not isinstance(name, str) or not name:
            raise ValueError("vault entry name must be a non-empty string")
        if not isinstance(value, str):
            raise TypeError("vault value must be a string")
        plaintext = value.encode("utf-8")
        with self._locked():
            key = self._master_key(create=True)
            assert key is not None
            entries = self._read_keys()
            entries[name] = self._encrypt(key, plaintext)
            self._write_json(self.keys_path, entries)

    def delete(self, name: str) -> bool:
        """Remove ``name``; ``True`` if it was there. Needs no master key."""
        if name not in self._read_keys():
            return False  # nothing to do; don't create the dir or lock file for a no-op
        with self._locked():
            entries = self._read_keys()
            if name not in entries:
                return False
            del entries[name]
            self._write_json(self.keys_path, entries)
            return True

    def has(self, name: str) -> bool:
        """Whether an entry exists in the JSON. Never decrypts (cheap presence check)."""
        return name in self._read_keys()

    def names(self) -> list[str]:
        """Every well-formed entry name, in file order (unknown entries included)."""
        return list(self._read_keys())

    def is_disconnected(self, runtime_id: str) -> bool:
        """Whether the runtime was explicitly disconnected (then it resolves keys vault-only).

        Fails closed: while the flags file is unreadable, every runtime is disconnected.
        """
        flags = self._read_disconnected()
        return flags is None or runtime_id in flags

    def disconnect_flags_readable(self) -> bool:
        """False while the flags file exists but cannot be read as a JSON object."""
        return self._read_disconnected() is not None

    def set_disconnected(
        self, runtime_id: str, flag: bool, *, fail_closed_ids: Iterable[str] = ()
    ) -> None:
        """Set or clear a runtime's disconnect flag (the file holds no secrets).

        An unreadable flags file is rewritten from ``fail_closed_ids`` (all flagged), so the
        runtimes it might have listed stay disconnected; only ``runtime_id`` changes.
        """
        flags = self._read_disconnected()
        if flags is not None and flag == (runtime_id in flags):
            return
        with self._locked():
            flags = self._read_disconnected()
            if flags is None:
                flags = dict.fromkeys(fail_closed_ids, True)
                log.warning("rewriting the unreadable disconnect-flags file (fail closed)")
            elif flag == (runtime_id in flags):
                return
            if flag:
                flags[runtime_id] = True
            else:
                flags.pop(runtime_id, None)
            self._write_json(self.disconnected_path, flags)

    # ── crypto ───────────────────────────────────────────────────────────────────
    @staticmethod
    def _encrypt(key: bytes, plaintext: bytes) -> dict[str, str]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # not at host start

        iv = os.urandom(IV_BYTES)
        sealed = AESGCM(key).encrypt(iv, plaintext, None)
        # cryptography appends the tag; the reference stores it separately.
        return {
            "iv": _b64(iv),
            "tag": _b64(sealed[-TAG_BYTES:]),
            "ciphertext": _b64(sealed[:-TAG_BYTES]),
        }

    @staticmethod
    def _decrypt(key: bytes, entry: Mapping[str, str]) -> str | None:
        iv = _unb64(entry["iv"])
        tag = _unb64(entry["tag"])
        ciphertext = _unb64(entry["ciphertext"])
        # Exact lengths: a truncated tag would weaken forgery resistance.
        if iv is None or tag is None or ciphertext is None:
            return None
        if len(iv) != IV_BYTES or len(tag) != TAG_BYTES:
            return None
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plaintext = AESGCM(key).decrypt(iv, ciphertext + tag, None)
        except InvalidTag:
            return None
        return plaintext.decode("utf-8", errors="replace")

    # ── master key ───────────────────────────────────────────────────────────────
    def _master_key(self, *, create: bool) -> bytes | None:
        """Env var (non-blank) > existing key file > a newly generated one (only if ``create``)."""
        raw_env = self._environ().get(MASTER_KEY_ENV)
        if raw_env is not None and raw_env.strip():
            decoded = decode_master_key(raw_env)
            if decoded is None:
                raise VaultKeyError(_ENV_KEY_MESSAGE)
            return decoded

        path = self.master_key_path
        existing = self._read_key_file(path)
        if existing is not None:
            return existing
        if not create:
            return None

        self._ensure_dir()
        generated = secrets.token_bytes(KEY_BYTES)
        tmp = self.dir / f"{MASTER_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            self._write_private(tmp, _b64(generated).encode("ascii"))
            try:
                os.link(tmp, path)  # atomic, fails if another creator already won
            except FileExistsError:
                winner = self._read_key_file(path)
                if winner is None:
                    raise VaultKeyError(_KEY_FILE_MESSAGE) from None
                return winner
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return generated

    @staticmethod
    def _read_key_file(path: Path) -> bytes | None:
        """The decoded key file, ``None`` if it does not exist; ``VaultKeyError`` if unusable."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory, no permission, an I/O error
            raise VaultKeyError(_KEY_FILE_MESSAGE) from exc
        try:
            decoded = decode_master_key(raw.decode("utf-8"))
        except UnicodeDecodeError:
            decoded = None
        if decoded is None:
            raise VaultKeyError(_KEY_FILE_MESSAGE)
        return decoded

    # ── files ────────────────────────────────────────────────────────────────────
    def _read_json_object(self, path: Path) -> dict[str, Any]:
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def _read_keys(self) -> dict[str, dict[str, str]]:
        return {k: v for k, v in self._read_json_object(self.keys_path).items() if _is_entry(v)}

    def _read_disconnected(self) -> dict[str, bool] | None:
        """The flags, or ``None`` when the file exists but is not a readable JSON object."""
        try:
            parsed = json.loads(self.disconnected_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            parsed = {}
        except (OSError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            if not self._flags_unreadable_logged:
                self._flags_unreadable_logged = True
                log.warning(UNREADABLE_FLAGS_MESSAGE)
            return None
        self._flags_unreadable_logged = False
        return {k: True for k, v in parsed.items() if v is True}

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.dir, 0o700)

    @staticmethod
    def _write_private(path: Path, data: bytes) -> None:
        """Create ``path`` exclusively with mode 0600 and durably write ``data``."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        try:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)  # in case the umask or an odd FS widened it
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_json(self, path: Path, obj: Mapping[str, Any]) -> None:
        """Atomically replace ``path`` with 2-space-indented JSON (the reference's format)."""
        self._ensure_dir()
        tmp = path.with_name(path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a stale tmp may have the wrong mode; we hold the lock
        try:
            self._write_private(tmp, json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        """Best-effort: make the rename durable; some filesystems refuse fsync on a dir."""
        with contextlib.suppress(OSError):
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize read-modify-write across threads (Lock) and processes (flock).

        A filesystem failure inside (a key file that is a directory, a read-only dir) comes
        out as :class:`VaultError`, whose message names no path.
        """
        with self._lock:
            try:
                self._ensure_dir()
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise VaultError(_STORE_MESSAGE) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                except VaultError:
                    raise
                except OSError as exc:
                    raise VaultError(_STORE_MESSAGE) from exc
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
