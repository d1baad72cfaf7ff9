"""Install the pinned real CLIs into a cache folder outside the repository, once.

The pins are read from the plugins' own descriptors, so this suite tests exactly what
``POST /api/runtimes/:id/install`` would install. npm packages go to ``<cache>/npm`` (one
``npm install -g --prefix``), pip packages each into their own venv ``<cache>/venv-<id>``;
``<cache>/bin`` gets a symlink per CLI binary and nothing else, so putting it on ``PATH``
shadows no ``python3``. A stamp file per runtime remembers the spec it installed: a moved pin
installs again, an unchanged one is reused.

Usage: ``python install_clis.py <cache>`` — prints the bin dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_descriptors():
    """Every installed runtime plugin with a CLI binary to install (the mock has none)."""
    from clawboo_host.registry import build_registry

    registry = build_registry(env=dict(os.environ, CLAWBOO_ENABLE_MOCK_RUNTIME="0"))
    return [
        d
        for rid, d in sorted(registry.descriptors.items())
        if d.cli_binary and d.install is not None and not d.built_in
    ]


def _run(argv: list[str]) -> None:
    print("+", " ".join(argv), file=sys.stderr, flush=True)
    subprocess.run(argv, check=True, stdout=sys.stderr)


def install(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    bin_dir = cache / "bin"
    bin_dir.mkdir(exist_ok=True)
    for d in cli_descriptors():
        spec = d.install.package
        stamp = cache / f"{d.id}.installed"
        if d.install.method == "npm":
            target = cache / "npm" / "bin" / d.cli_binary
            if not (stamp.exists() and stamp.read_text() == spec and target.exists()):
                _run(["npm", "install", "-g", "--no-fund", "--no-audit", "--prefix",
                      str(cache / "npm"), spec])
        elif d.install.method == "pip":
            venv = cache / f"venv-{d.id}"
            target = venv / "bin" / d.cli_binary
            if not (stamp.exists() and stamp.read_text() == spec and target.exists()):
                if not (venv / "bin" / "python").exists():
                    _run([sys.executable, "-m", "venv", str(venv)])
                _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", spec])
        else:
            raise SystemExit(f"{d.id}: no installer for method {d.install.method!r}")
        stamp.write_text(spec)
        link = bin_dir / d.cli_binary
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return bin_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(install(Path(sys.argv[1]).expanduser().resolve()))
