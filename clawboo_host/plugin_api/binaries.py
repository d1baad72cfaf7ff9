"""Find a runtime's executable: PATH first, then the usual user-install dirs.

The dirs, in order: ``~/.local/bin`` (pipx, pip ``--user``), the npm global prefix's
``bin`` (``NPM_CONFIG_PREFIX``, else ``npm config get prefix``), and on macOS each
``~/Library/Python/<ver>/bin``. ``HOME`` and ``PATH`` come from the ``env`` you pass (the
server's environment by default), so lookups follow the environment children get.

Every call probes the file system live: a binary that appears between two calls is found
by the second. The only cached value is the output of ``npm config get prefix`` (slow to
run), computed lazily once per npm executable and process.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping

import anyio

from .process import run_capture_sync

__all__ = ["aresolve_binary", "clear_npm_prefix_cache", "npm_global_bin_dir", "resolve_binary"]

#: Seconds ``npm config get prefix`` may take.
NPM_PREFIX_TIMEOUT_S = 5.0

_npm_prefix_cache: dict[str, str | None] = {}
_npm_prefix_lock = threading.Lock()


def _is_macos() -> bool:
    return sys.platform == "darwin"


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _home(env: Mapping[str, str] | None) -> str | None:
    if env is None:
        home = os.path.expanduser("~")
        return None if home == "~" else home
    return env.get("HOME") or None


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    found = shutil.which(name, path=environ.get("PATH", ""))
    return os.path.abspath(found) if found else None


def clear_npm_prefix_cache() -> None:
    """Forget the cached ``npm config get prefix`` results (tests, after an npm change)."""
    with _npm_prefix_lock:
        _npm_prefix_cache.clear()


def _npm_prefix(env: Mapping[str, str] | None) -> str | None:
    environ = os.environ if env is None else env
    for key in ("NPM_CONFIG_PREFIX", "npm_config_prefix"):
        value = (environ.get(key) or "").strip()
        if value:
            return os.path.expanduser(value)
    # Find npm without the npm prefix (that would recurse): PATH, then ~/.local/bin.
    npm = _which("npm", environ)
    home = _home(env)
    if npm is None and home:
        candidate = os.path.join(home, ".local", "bin", "npm")
        npm = candidate if _is_executable_file(candidate) else None
    if npm is None:
        return None
    with _npm_prefix_lock:
        if npm in _npm_prefix_cache:
            return _npm_prefix_cache[npm]
        result = run_capture_sync(
            [npm, "config", "get", "prefix"], env=dict(environ), timeout=NPM_PREFIX_TIMEOUT_S
        )
        prefix: str | None = None
        if result.returncode == 0:
            lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
            prefix = lines[-1] if lines else None
        _npm_prefix_cache[npm] = prefix
        return prefix


def npm_global_bin_dir(env: Mapping[str, str] | None = None) -> str | None:
    """Where ``npm install -g`` puts executables, or ``None`` when npm is unknown."""
    prefix = _npm_prefix(env)
    if not prefix:
        return None
    return prefix if os.name == "nt" else os.path.join(prefix, "bin")


def _user_dirs(env: Mapping[str, str] | None) -> Iterator[str]:
    """The fallback dirs, lazily (the npm prefix is only worked out when reached)."""
    home = _home(env)
    if home:
        yield os.path.join(home, ".local", "bin")
    npm_bin = npm_global_bin_dir(env)
    if npm_bin:
        yield npm_bin
    if home and _is_macos():
        yield from sorted(
            glob.glob(os.path.join(home, "Library", "Python", "*", "bin")), reverse=True
        )


def resolve_binary(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The absolute path of executable ``name``, or ``None``.

    Looks on ``env``'s ``PATH`` (the server's environment when ``env`` is ``None``), then
    in the user-install dirs. Only regular files with the execute bit count.
    """
    if not name:
        return None
    if os.sep in name or (os.altsep and os.altsep in name):
        return os.path.abspath(name) if _is_executable_file(name) else None
    environ = os.environ if env is None else env
    found = _which(name, environ)
    if found:
        return found
    for directory in _user_dirs(env):
        candidate = os.path.join(directory, name)
        if _is_executable_file(candidate):
            return os.path.abspath(candidate)
    return None


async def aresolve_binary(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """:func:`resolve_binary` in a worker thread, so the event loop never blocks on it."""
    return await anyio.to_thread.run_sync(resolve_binary, name, env)
