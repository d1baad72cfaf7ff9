"""The file tools: ``read_file``, ``write_file``, ``list_files``, confined to the run's worktree.

Confinement is strict (stricter than the reference's lexical check): a ``path`` argument must
be a non-empty relative path; it is joined to the worktree root and **fully resolved**
(``os.path.realpath``: ``..`` and every symlink, including a dangling one), and the result must
be the root itself or under it. So ``../x``, ``/etc/passwd`` and a symlink inside the worktree
that points outside are all refused with ``path must be a relative path inside the
workspace``. Anything named ``.git`` is refused too: in a worktree ``.git`` is a pointer file
the host's own git commands trust, so the agent must not rewrite it (or anything below it).
Files are opened with ``O_NOFOLLOW`` so the final component cannot be swapped for a symlink
between the check and the open.

Limits: ``read_file`` returns at most 64 KiB (then a ``…[truncated at 65536 bytes]`` marker);
``write_file`` takes at most 10 MiB; ``list_files`` lists at most 1000 entries.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .llm import ToolSpec

READ_CAP_BYTES = 64 * 1024
WRITE_CAP_BYTES = 10 * 1024 * 1024
LIST_CAP = 1000
OUTSIDE = "path must be a relative path inside the workspace"
GIT_DIR = "the .git entry is managed by clawboo and cannot be read or written"

FILE_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "list_files",
        "List the entries of a directory in the workspace (not recursive). Each line is "
        "'dir  <name>' or 'file <name>'.",
        {
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "directory relative to the workspace root (default '.')",
                }
            },
        },
    ),
    ToolSpec(
        "read_file",
        "Read a UTF-8 text file in the workspace (at most 64 KiB are returned).",
        {
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "file path relative to the workspace root",
                }
            },
            "required": ["path"],
        },
    ),
    ToolSpec(
        "write_file",
        "Create or overwrite a file in the workspace with the given content (parent "
        "directories are created).",
        {
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "file path relative to the workspace root",
                },
                "content": {"type": "string", "description": "the complete new file content"},
            },
            "required": ["path", "content"],
        },
    ),
)
FILE_TOOL_NAMES = frozenset(t.name for t in FILE_TOOLS)


class Refused(Exception):
    """A tool call the agent gets back as an error result."""


@dataclass(frozen=True)
class Outcome:
    output: str
    is_error: bool = False


class Workspace:
    """The worktree the file tools may touch."""

    def __init__(self, root: Path | str) -> None:
        self.root = os.path.realpath(root)

    def resolve(self, raw: object, *, default: str | None = None) -> str:
        """The real absolute path for ``raw``, or :class:`Refused`."""
        if raw is None or (default is not None and (not isinstance(raw, str) or raw == "")):
            raw = default if default is not None else ""
        path = raw if isinstance(raw, str) else str(raw)
        if not path or "\x00" in path or os.path.isabs(path):
            raise Refused(OUTSIDE)
        real = os.path.realpath(os.path.join(self.root, path))
        if real != self.root and not real.startswith(self.root + os.sep):
            raise Refused(OUTSIDE)
        relative = os.path.relpath(real, self.root)
        if any(part.lower() == ".git" for part in Path(relative).parts):
            raise Refused(GIT_DIR)
        return real

    def relative(self, real: str) -> str:
        return os.path.relpath(real, self.root)

    # The tools: synchronous. The loop runs read_file inline (bounded, non-blocking open) and
    # the others in a worker thread.

    def run(self, name: str, args: dict) -> Outcome:
        try:
            if name == "read_file":
                return Outcome(self.read_file(args.get("path")))
            if name == "write_file":
                return Outcome(self.write_file(args.get("path"), args.get("content")))
            if name == "list_files":
                return Outcome(self.list_files(args.get("path")))
        except Refused as exc:
            return Outcome(str(exc), True)
        except OSError as exc:
            return Outcome(f"{exc.strerror or type(exc).__name__}: {args.get('path')}", True)
        return Outcome(f"unknown tool: {name}", True)

    def read_file(self, raw: object) -> str:
        real = self.resolve(raw)
        # O_NONBLOCK: opening a FIFO (or a device) must not block the run; it is refused
        # below as "not a file". It has no effect on reading a regular file.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(real, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Refused("not a file")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(READ_CAP_BYTES + 1)
        finally:
            os.close(fd)
        text = data[:READ_CAP_BYTES].decode("utf-8", errors="replace")
        if len(data) > READ_CAP_BYTES:
            text += f"\n…[truncated at {READ_CAP_BYTES} bytes]"
        return text

    def write_file(self, raw: object, content: object) -> str:
        real = self.resolve(raw)
        if real == self.root:
            raise Refused("not a file")
        if content is None:
            content = ""
        elif not isinstance(content, str):
            content = json.dumps(content)
        data = content.encode("utf-8")
        if len(data) > WRITE_CAP_BYTES:
            raise Refused(f"content too large (at most {WRITE_CAP_BYTES} bytes)")
        os.makedirs(os.path.dirname(real), exist_ok=True)
        # O_NONBLOCK and no O_TRUNC: an existing FIFO or device must neither block the run
        # nor be written; it is refused as "not a file" (truncated only once known regular).
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            fd = os.open(real, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a FIFO nobody reads
                raise Refused("not a file") from None
            raise
        with os.fdopen(fd, "wb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise Refused("not a file")
            os.set_blocking(fd, True)
            fh.truncate(0)
            fh.write(data)
        return f"wrote {self.relative(real)}"

    def list_files(self, raw: object) -> str:
        real = self.resolve(raw, default=".")
        if not os.path.isdir(real):
            raise Refused("not a directory")
        lines = []
        with os.scandir(real) as entries:
            for entry in entries:
                if real == self.root and entry.name.lower() == ".git":
                    continue
                kind = "dir " if entry.is_dir(follow_symlinks=False) else "file"
                lines.append(f"{kind} {entry.name}")
        lines.sort()
        if not lines:
            return "(empty)"
        if len(lines) > LIST_CAP:
            more = len(lines) - LIST_CAP
            lines = lines[:LIST_CAP] + [f"…[{more} more entries]"]
        return "\n".join(lines)
