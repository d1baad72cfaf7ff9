"""Read refs and objects of a git repository, and write loose objects, without starting git.

Why: a run used to spend a dozen ``git`` processes (~2-9 ms each) before and after the agent
ran; most of them only asked for a ref or wrote the five-file scaffold commit. This module
answers those questions in-process, for the common repository shape, so a run needs git only
for what changes a working tree (``worktree add``, ``add``, ``commit``).

It is deliberately narrow and never guesses: anything outside the shapes it knows (SHA-256
repositories, reftable refs, pack index v1, an object missing here as in a partial clone, an
object whose bytes do not hash to its name) raises :class:`Unsupported`, and the caller
falls back to the ``git`` command that answers the same question. Every object read is checked
against its name, so a misread pack can never produce a wrong tree.

Formats (all stable for over a decade, see git's ``Documentation/gitformat-pack.txt``):
loose objects are ``zlib("<type> <size>\\0" + body)`` at ``objects/xx/yyyy…``; a pack index
v2 maps a name to an offset in its ``.pack``; a packed object may be a delta against another
object (by offset or by name) that is applied with copy/insert instructions.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, suppress
from pathlib import Path

__all__ = [
    "ObjectStore",
    "Unsupported",
    "create_ref",
    "git_dirs",
    "head",
    "read_ref",
    "tree_with_files",
    "write_commit",
]

SHA1_HEX = 40
_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_IDX_MAGIC = b"\377tOc"


class Unsupported(Exception):
    """This repository or object is outside what this module reads; ask git instead."""


def _is_sha1(text: str) -> bool:
    return len(text) == SHA1_HEX and all(c in "0123456789abcdef" for c in text)


# --------------------------------------------------------------------------- directories


#: ``git_dirs`` answers by checkout, with the stamps (``.git`` and the common dir's inode and
#: change time) they were read under: a run asks several times, and nothing moved between.
_dirs_seen: dict[str, tuple[tuple, tuple[Path, Path]]] = {}
_DIRS_SEEN_MAX = 512


def _stamp(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns, info.st_ctime_ns


def git_dirs(checkout: Path) -> tuple[Path, Path]:
    """``(git dir, common dir)`` of the working tree whose top level is ``checkout``.

    A main checkout's ``.git`` is a directory (both dirs are it); a linked worktree's is a
    file ``gitdir: <path>`` whose ``commondir`` names the shared repository.
    """
    dot_git = checkout / ".git"
    key = os.fspath(dot_git)
    seen = _dirs_seen.get(key)
    if seen is not None:
        stamps, dirs = seen
        try:
            if stamps == (_stamp(dot_git), _stamp(dirs[1])):
                return dirs
        except OSError:
            pass
    if dot_git.is_dir():
        gitdir = dot_git
    elif dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir: "):
            raise Unsupported(f"{dot_git} is not a gitdir link")
        gitdir = Path(checkout, text[len("gitdir: ") :])
    else:
        raise Unsupported(f"{checkout} has no .git")
    common = gitdir
    commondir_file = gitdir / "commondir"
    if commondir_file.is_file():
        common = Path(gitdir, commondir_file.read_text(encoding="utf-8").strip())
    if (common / "reftable").exists():
        raise Unsupported("reftable refs")
    dirs = Path(os.path.realpath(gitdir)), Path(os.path.realpath(common))
    if len(_dirs_seen) >= _DIRS_SEEN_MAX:
        _dirs_seen.clear()
    _dirs_seen[key] = ((_stamp(dot_git), _stamp(dirs[1])), dirs)
    return dirs


# --------------------------------------------------------------------------- refs


def _per_worktree(name: str) -> bool:
    return name == "HEAD" or name.startswith(("refs/bisect/", "refs/worktree/", "refs/rewritten/"))


def read_ref(gitdir: Path, common: Path, name: str, *, _depth: int = 0) -> str | None:
    """The object name ``name`` (``HEAD``, ``refs/heads/x``) points to, following symbolic
    refs; ``None`` when the ref does not exist (or is an unborn branch)."""
    if _depth > 5:
        raise Unsupported(f"symbolic ref loop at {name}")
    base = gitdir if _per_worktree(name) else common
    try:
        text = (base / name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = None
    except (IsADirectoryError, NotADirectoryError):
        return None
    if text is not None:
        if text.startswith("ref: "):
            return read_ref(gitdir, common, text[len("ref: ") :], _depth=_depth + 1)
        if not _is_sha1(text):
            raise Unsupported(f"ref {name} holds {text[:12]!r}")
        return text
    return _packed_ref(common, name)


def _packed_ref(common: Path, name: str) -> str | None:
    try:
        lines = (common / "packed-refs").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    suffix = " " + name
    for line in lines:
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            sha = line[: -len(suffix)]
            if not _is_sha1(sha):
                raise Unsupported(f"packed ref {name} holds {sha[:12]!r}")
            return sha
    return None


def create_ref(common: Path, name: str, sha: str) -> bool:
    """Create the new branch ref ``name`` at ``sha`` the way git does (``<ref>.lock`` taken
    exclusively, then renamed into place). False, with nothing written, when the ref or a
    ref it would clash with (``a/b`` against ``a``) exists, or git holds the lock."""
    if not _is_sha1(sha) or not name.startswith("refs/heads/"):
        raise Unsupported(f"cannot create {name} at {sha[:12]!r}")
    target = common / name
    try:
        packed = (common / "packed-refs").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        packed = []
    for line in packed:
        other = line.partition(" ")[2]
        if other and (
            other == name or other.startswith(name + "/") or name.startswith(other + "/")
        ):
            return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{target}.lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except (FileExistsError, NotADirectoryError, FileNotFoundError):
        return False
    lock = f"{target}.lock"
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(sha.encode("ascii") + b"\n")
        if os.path.lexists(target):
            os.unlink(lock)
            return False
        os.rename(lock, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(lock)
        raise
    return True


def head(gitdir: Path, common: Path) -> tuple[str | None, str | None]:
    """``(commit, branch ref)`` of a checkout's ``HEAD``: the ref is ``None`` when detached,
    the commit ``None`` on an unborn branch."""
    text = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
    if text.startswith("ref: "):
        ref = text[len("ref: ") :]
        return read_ref(gitdir, common, ref), ref
    if not _is_sha1(text):
        raise Unsupported(f"HEAD holds {text[:12]!r}")
    return text, None


# --------------------------------------------------------------------------- objects


def _object_id(kind: bytes, body: bytes) -> str:
    return hashlib.sha1(b"%s %d\0" % (kind, len(body)) + body, usedforsecurity=False).hexdigest()


class _Pack:
    """One ``.idx``/``.pack`` pair, memory-mapped."""

    def __init__(self, idx_path: Path, stack: ExitStack) -> None:
        self.idx = stack.enter_context(_mapped(idx_path))
        if self.idx[:4] != _IDX_MAGIC or struct.unpack(">I", self.idx[4:8])[0] != 2:
            raise Unsupported(f"pack index {idx_path.name} is not version 2")
        self.count = struct.unpack(">I", self.idx[8 + 255 * 4 : 8 + 256 * 4])[0]
        self.pack = stack.enter_context(_mapped(idx_path.with_suffix(".pack")))

    def offset_of(self, raw: bytes) -> int | None:
        first = raw[0]
        lo = struct.unpack(">I", self.idx[8 + (first - 1) * 4 : 8 + first * 4])[0] if first else 0
        hi = struct.unpack(">I", self.idx[8 + first * 4 : 12 + first * 4])[0]
        names = 8 + 256 * 4
        while lo < hi:
            mid = (lo + hi) // 2
            here = self.idx[names + mid * 20 : names + mid * 20 + 20]
            if here == raw:
                offsets = names + self.count * 24  # after the names and the CRCs
                (off,) = struct.unpack(">I", self.idx[offsets + mid * 4 : offsets + mid * 4 + 4])
                if off & 0x80000000:
                    large = offsets + self.count * 4 + (off & 0x7FFFFFFF) * 8
                    (off,) = struct.unpack(">Q", self.idx[large : large + 8])
                return off
            if here < raw:
                lo = mid + 1
            else:
                hi = mid
        return None


def _mapped(path: Path) -> mmap.mmap:
    with open(path, "rb") as fh:
        try:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # an empty file
            raise Unsupported(f"cannot map {path.name}: {exc}") from None


class ObjectStore:
    """Objects of one repository (``<common>/objects`` and its alternates). Use as a context
    manager: packs are mapped on first need and unmapped on exit."""

    def __init__(self, common: Path) -> None:
        self.objects = common / "objects"
        self._stack = ExitStack()
        self._packs: list[_Pack] | None = None
        self._dirs = [self.objects, *self._alternates(self.objects)]

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @staticmethod
    def _alternates(objects: Path) -> list[Path]:
        try:
            lines = (objects / "info" / "alternates").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [Path(objects, line.strip()) for line in lines if line.strip() and line[0] != "#"]

    def _all_packs(self) -> list[_Pack]:
        if self._packs is None:
            self._packs = [
                _Pack(idx, self._stack)
                for directory in self._dirs
                for idx in sorted((directory / "pack").glob("*.idx"))
                if idx.with_suffix(".pack").is_file()
            ]
        return self._packs

    def read(self, sha: str) -> tuple[bytes, bytes]:
        """``(type, body)`` of object ``sha``, checked against its name."""
        if not _is_sha1(sha):
            raise Unsupported(f"not a SHA-1 object name: {sha[:12]!r}")
        kind, body = self._read_unchecked(sha)
        if _object_id(kind, body) != sha:
            raise Unsupported(f"object {sha} does not hash to its name")
        return kind, body

    def _read_unchecked(self, sha: str) -> tuple[bytes, bytes]:
        for directory in self._dirs:
            try:
                raw = (directory / sha[:2] / sha[2:]).read_bytes()
            except FileNotFoundError:
                continue
            data = zlib.decompress(raw)
            header, _, body = data.partition(b"\0")
            kind, _, _size = header.partition(b" ")
            return kind, body
        name = bytes.fromhex(sha)
        for pack in self._all_packs():
            offset = pack.offset_of(name)
            if offset is not None:
                return self._unpack(pack, offset)
        raise Unsupported(f"object {sha} not found")

    def _unpack(self, pack: _Pack, offset: int) -> tuple[bytes, bytes]:
        data = pack.pack
        pos = offset
        byte = data[pos]
        pos += 1
        kind = (byte >> 4) & 7
        while byte & 0x80:  # the size, which zlib's end-of-stream makes redundant
            byte = data[pos]
            pos += 1
        if kind in _TYPES:
            return _TYPES[kind], _inflate(data, pos)
        if kind == _OFS_DELTA:
            byte = data[pos]
            pos += 1
            back = byte & 0x7F
            while byte & 0x80:
                byte = data[pos]
                pos += 1
                back = ((back + 1) << 7) | (byte & 0x7F)
            base_kind, base = self._unpack(pack, offset - back)
        elif kind == _REF_DELTA:
            base_kind, base = self._read_unchecked(bytes(data[pos : pos + 20]).hex())
            pos += 20
        else:
            raise Unsupported(f"pack object type {kind}")
        return base_kind, _apply_delta(base, _inflate(data, pos))

    def write(self, kind: bytes, body: bytes) -> str:
        """Store a loose object (atomically; an existing one is kept) and return its name."""
        sha = _object_id(kind, body)
        target = self.objects / sha[:2] / sha[2:]
        if target.exists():
            return sha
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix="tmp_obj_")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(zlib.compress(b"%s %d\0" % (kind, len(body)) + body, 1))
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        return sha


def _inflate(data: mmap.mmap, pos: int) -> bytes:
    inflater = zlib.decompressobj()
    out = []
    step = 1 << 16
    while not inflater.eof:
        chunk = data[pos : pos + step]
        if not chunk:
            raise Unsupported("truncated pack")
        out.append(inflater.decompress(chunk))
        pos += step
    return b"".join(out)


def _varint(delta: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = delta[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _apply_delta(base: bytes, delta: bytes) -> bytes:
    source_size, pos = _varint(delta, 0)
    target_size, pos = _varint(delta, pos)
    if source_size != len(base):
        raise Unsupported("delta base size mismatch")
    out = bytearray()
    while pos < len(delta):
        op = delta[pos]
        pos += 1
        if op & 0x80:  # copy from the base
            start = size = 0
            for bit in range(4):
                if op & (1 << bit):
                    start |= delta[pos] << (8 * bit)
                    pos += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    size |= delta[pos] << (8 * bit)
                    pos += 1
            out += base[start : start + (size or 0x10000)]
        elif op:  # insert the next op bytes
            out += delta[pos : pos + op]
            pos += op
        else:
            raise Unsupported("reserved delta opcode")
    if len(out) != target_size:
        raise Unsupported("delta result size mismatch")
    return bytes(out)


# --------------------------------------------------------------------------- trees, commits


def _tree_entries(body: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    pos = 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        yield body[pos:space], body[space + 1 : nul], body[nul + 1 : nul + 21]
        pos = nul + 21


def _sort_key(entry: tuple[bytes, bytes, bytes]) -> bytes:
    mode, name, _ = entry
    return name + b"/" if mode == b"40000" else name  # git's order: a tree sorts as "name/"


def tree_with_files(store: ObjectStore, commit: str, files: Mapping[str, tuple[int, bytes]]) -> str:
    """Write the tree of ``commit`` with ``files`` (``name -> (mode, content)``, top-level
    names) added or replacing whatever had that name; return the new tree's name."""
    kind, body = store.read(commit)
    if kind != b"commit" or not body.startswith(b"tree "):
        raise Unsupported(f"{commit} is not a commit")
    kind, tree = store.read(body[5:45].decode("ascii"))
    if kind != b"tree":
        raise Unsupported("the commit's tree is not a tree")
    names = {name.encode("utf-8") for name in files}
    entries = [entry for entry in _tree_entries(tree) if entry[1] not in names]
    for name, (mode, content) in files.items():
        blob = store.write(b"blob", content)
        entries.append((b"%o" % mode, name.encode("utf-8"), bytes.fromhex(blob)))
    entries.sort(key=_sort_key)
    return store.write(b"tree", b"".join(m + b" " + n + b"\0" + s for m, n, s in entries))


def _timezone() -> bytes:
    offset = time.localtime().tm_gmtoff // 60
    sign = b"+" if offset >= 0 else b"-"
    return b"%s%02d%02d" % (sign, abs(offset) // 60, abs(offset) % 60)


def write_commit(
    store: ObjectStore,
    tree: str,
    parents: Iterable[str],
    message: str,
    identity: str,
) -> str:
    """Write a commit (author = committer = ``identity``, ``"Name <email>"``, now)."""
    stamp = b"%s %d %s" % (identity.encode("utf-8"), int(time.time()), _timezone())
    lines = [b"tree " + tree.encode("ascii")]
    lines += [b"parent " + parent.encode("ascii") for parent in parents]
    lines += [b"author " + stamp, b"committer " + stamp]
    body = b"\n".join(lines) + b"\n\n" + message.encode("utf-8").rstrip(b"\n") + b"\n"
    return store.write(b"commit", body)
