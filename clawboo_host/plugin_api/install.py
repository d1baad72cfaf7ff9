"""Install helpers for a plugin's ``clawboo_runtime_install`` hook.

Each helper is an async generator of install events (:class:`InstallProgress`,
:class:`InstallOutput`, :class:`InstallError`, :class:`InstallComplete`); yield them on
unchanged. The opening ``Installing <name>…`` frame is the host's, not theirs. The stream
ends after the first terminal event: :class:`InstallComplete` or any error except the
advisory ``EACCES``.

The package spec is always passed as one argv element (never through a shell). Closing or
cancelling the generator kills the whole install process tree; consume it with
``contextlib.aclosing`` so that happens at once rather than when it is garbage-collected::

    async with aclosing(npm_install("@openai/codex@0", env=ctx.env)) as events:
        async for event in events:
            ...
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import anyio

from .binaries import aresolve_binary
from .process import run_capture, spawn
from .types import InstallComplete, InstallError, InstallEvent, InstallOutput, InstallProgress

__all__ = [
    "PYTHON_CANDIDATES",
    "Interpreter",
    "PythonChoice",
    "find_python",
    "npm_install",
    "pip_install",
    "python_missing_message",
    "python_too_old_message",
]

#: Interpreter names tried by :func:`find_python`, in order.
PYTHON_CANDIDATES = ("python3.13", "python3.12", "python3.11", "python3", "python")
#: Prints ``<minor> <major>.<minor>``, the minor being -1 for a Python that is not 3.
#: Valid Python 2 and 3.
_PROBE = (
    "import sys; v = sys.version_info; print('%d %d.%d' % (v[1] if v[0] == 3 else -1, v[0], v[1]))"
)
PROBE_TIMEOUT_S = 5.0

_EACCES = re.compile(r"EACCES|permission denied", re.IGNORECASE)
_PEP668_MARKER = "externally-managed-environment"
_XCODE = re.compile(r"Xcode\.app|CommandLineTools", re.IGNORECASE)

NPM_MISSING_MESSAGE = "npm not found. Install Node.js (which bundles npm) and retry."
PIPX_PROGRESS_MESSAGE = "Installing via pipx…"
RETRY_MESSAGE = "Externally-managed environment detected; retrying with --break-system-packages…"


def _eacces_error(install_command: str) -> InstallError:
    return InstallError(
        "EACCES",
        "Permission denied. A global install may require elevated permissions. "
        f"Try: sudo {install_command}",
    )


def _exit_error(returncode: int | None) -> InstallError:
    code = "null" if returncode is None or returncode < 0 else str(returncode)
    return InstallError(f"EXIT_{code}", f"Installation failed with exit code {code}")


def _env_dict(env: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(env) if env is not None else None


@dataclass
class _Outcome:
    """What one install child did; the caller turns it into the terminal event."""

    returncode: int | None = None
    error: InstallError | None = None
    marker_seen: bool = False

    def terminal(self) -> InstallEvent:
        if self.error is not None:
            return self.error
        if self.returncode == 0:
            return InstallComplete()
        return _exit_error(self.returncode)


async def _run_child(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    outcome: _Outcome,
    *,
    eacces_command: str | None = None,
    marker: str | None = None,
) -> AsyncIterator[InstallEvent]:
    """Run one install child, yielding its output (and EACCES advice) but no terminal
    event; ``outcome`` gets the exit code, a spawn error, and whether ``marker`` was seen
    on stderr."""
    started = False
    try:
        async with spawn(argv, env=_env_dict(env)) as proc:
            started = True
            async with aclosing(proc.lines()) as lines:
                async for stream, line in lines:
                    if stream == "stderr":
                        if marker is not None and marker in line:
                            outcome.marker_seen = True
                        if eacces_command is not None and _EACCES.search(line):
                            yield _eacces_error(eacces_command)
                    if line:
                        yield InstallOutput(line)
            outcome.returncode = await proc.wait()
    except OSError as exc:
        if started:
            raise
        outcome.error = InstallError("SPAWN_ERROR", str(exc) or exc.__class__.__name__)
    except Exception as exc:
        if started:
            raise
        outcome.error = InstallError("SPAWN_THROW", str(exc) or exc.__class__.__name__)


# --------------------------------------------------------------------------- npm


async def npm_install(
    package: str, *, env: Mapping[str, str] | None
) -> AsyncIterator[InstallEvent]:
    """``npm install -g <package>`` with the resolved npm, streamed as install events.

    No npm → ``NPM_MISSING`` (nothing spawned). Each non-empty stdout/stderr line is an
    :class:`InstallOutput`; a stderr line mentioning ``EACCES`` / ``permission denied`` is
    preceded by an advisory ``EACCES`` error. Exit 0 → :class:`InstallComplete`, else
    ``EXIT_<code>`` (``EXIT_null`` when a signal ended it); a failed start →
    ``SPAWN_ERROR`` (``OSError``) or ``SPAWN_THROW`` (anything else).
    """
    npm = await aresolve_binary("npm", env)
    if npm is None:
        yield InstallError("NPM_MISSING", NPM_MISSING_MESSAGE)
        return
    outcome = _Outcome()
    child = _run_child(
        [npm, "install", "-g", package], env, outcome, eacces_command=f"npm install -g {package}"
    )
    async with aclosing(child) as events:
        async for event in events:
            yield event
    yield outcome.terminal()


# --------------------------------------------------------------------------- python


@dataclass(frozen=True)
class Interpreter:
    """A probed Python: its path, minor version (-1 for Python 2) and ``"3.9"``-style
    version."""

    bin: str
    minor: int
    version: str


@dataclass(frozen=True)
class PythonChoice:
    """``compatible``: the newest interpreter meeting the minimum; ``best``: the newest."""

    compatible: Interpreter | None
    best: Interpreter | None


def _parse_probe(bin_path: str, stdout: str) -> Interpreter | None:
    for line in stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        try:
            minor = int(parts[0])
        except ValueError:
            return None
        if len(parts) > 1:
            version = parts[1]
        else:
            version = f"3.{minor}" if minor >= 0 else "2"
        return Interpreter(bin=bin_path, minor=minor, version=version)
    return None


async def find_python(
    min_minor: int | None,
    env: Mapping[str, str] | None,
    *,
    timeout: float = PROBE_TIMEOUT_S,
) -> PythonChoice:
    """Probe ``python3.13``, ``python3.12``, ``python3.11``, ``python3`` and ``python``
    (deduplicated by real path; resolved and run concurrently, each probe bounded by
    ``timeout``). A candidate that fails, hangs or prints nonsense is skipped."""
    minimum = min_minor or 0
    resolved: list[str | None] = [None] * len(PYTHON_CANDIDATES)

    async def resolve(index: int, name: str) -> None:
        resolved[index] = await aresolve_binary(name, env)

    async with anyio.create_task_group() as tg:
        for index, name in enumerate(PYTHON_CANDIDATES):
            tg.start_soon(resolve, index, name)

    bins: list[str] = []
    seen: set[str] = set()
    for path in resolved:
        if path is None:
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            bins.append(path)

    found: list[Interpreter | None] = [None] * len(bins)

    async def probe(index: int, bin_path: str) -> None:
        result = await run_capture([bin_path, "-c", _PROBE], env=_env_dict(env), timeout=timeout)
        if result.returncode == 0:
            found[index] = _parse_probe(bin_path, result.stdout)

    async with anyio.create_task_group() as tg:
        for index, bin_path in enumerate(bins):
            tg.start_soon(probe, index, bin_path)

    compatible: Interpreter | None = None
    best: Interpreter | None = None
    for interp in found:  # candidate order breaks ties
        if interp is None:
            continue
        if best is None or interp.minor > best.minor:
            best = interp
        if interp.minor >= minimum and (compatible is None or interp.minor > compatible.minor):
            compatible = interp
    return PythonChoice(compatible=compatible, best=best)


def python_too_old_message(display_name: str, min_minor: int, best: Interpreter) -> str:
    xcode = " (Xcode Command Line Tools)" if _XCODE.search(best.bin) else ""
    return (
        f"{display_name} needs Python 3.{min_minor} or newer, but the Python on this machine "
        f"is {best.version}{xcode}. Install a newer Python (e.g. `brew install python@3.12`) "
        "or pipx (`brew install pipx`), then Retry."
    )


def python_missing_message(min_minor: int) -> str:
    return (
        f"Python 3.{min_minor}+ (with pip or pipx) not found. Install it (e.g. "
        "`brew install python@3.12` or `brew install pipx`), then Retry."
    )


async def pip_install(
    package: str,
    *,
    min_minor: int | None,
    env: Mapping[str, str] | None,
    display_name: str,
) -> AsyncIterator[InstallEvent]:
    """Install a Python CLI: with pipx when it resolves, else ``python -m pip install
    --user`` on the newest interpreter that is at least ``3.<min_minor>``.

    - pipx: a ``progress``/``installing`` frame, then ``pipx install [--python <py>]
      <package>`` (``--python`` only when a compatible interpreter exists), with the same
      output and EACCES handling as :func:`npm_install`.
    - no pipx and no compatible Python: ``PYTHON_TOO_OLD`` (some older Python exists) or
      ``PYTHON_MISSING``; nothing is spawned.
    - pip: no EACCES advice; if stderr says ``externally-managed-environment`` and the
      exit is non-zero, a ``progress``/``retrying`` frame and one more run with
      ``--break-system-packages``, whose outcome is final.
    """
    minimum = min_minor or 0
    choice = await find_python(minimum, env)
    pipx = await aresolve_binary("pipx", env)
    if pipx is not None:
        yield InstallProgress("installing", PIPX_PROGRESS_MESSAGE)
        argv = [pipx, "install"]
        if choice.compatible is not None:
            argv += ["--python", choice.compatible.bin]
        argv.append(package)
        outcome = _Outcome()
        child = _run_child(argv, env, outcome, eacces_command=f"pipx install '{package}'")
        async with aclosing(child) as events:
            async for event in events:
                yield event
        yield outcome.terminal()
        return

    python = choice.compatible
    if python is None:
        if choice.best is not None and minimum > 0:
            yield InstallError(
                "PYTHON_TOO_OLD", python_too_old_message(display_name, minimum, choice.best)
            )
        else:
            yield InstallError("PYTHON_MISSING", python_missing_message(minimum))
        return

    outcome = _Outcome()
    child = _run_child(
        [python.bin, "-m", "pip", "install", "--user", package], env, outcome, marker=_PEP668_MARKER
    )
    async with aclosing(child) as events:
        async for event in events:
            yield event
    if outcome.error is None and outcome.returncode != 0 and outcome.marker_seen:
        yield InstallProgress("retrying", RETRY_MESSAGE)
        outcome = _Outcome()
        retry = [python.bin, "-m", "pip", "install", "--user", "--break-system-packages", package]
        async with aclosing(_run_child(retry, env, outcome)) as events:
            async for event in events:
                yield event
    yield outcome.terminal()
