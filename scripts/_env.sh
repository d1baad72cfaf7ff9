# Shared by scripts/serve and scripts/test: make sure .venv holds the host and every plugin,
# laid out as `pipx install clawboo-host` lays them out (docs/install.md), but editable: the
# core (clawboo-host-core, with the test extra), each plugins/*, and the clawboo-host meta.
# Sourced, not run. Re-installs only when a pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLAWBOO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "clawboo-host needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
STAMP="$VENV/.clawboo-installed"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
newest=$(ls -t "$ROOT"/pyproject.toml "$ROOT"/meta/pyproject.toml "$ROOT"/plugins/*/pyproject.toml | head -n1)
if [ ! -f "$STAMP" ] || [ "$newest" -nt "$STAMP" ]; then
  echo "installing clawboo-host and its runtime plugins into $VENV ..." >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q hatchling >&2
  # A venv made before the core/meta split has `clawboo-host` as the core itself: remove it
  # first so its files (the package path, the command) never outlive it.
  "$VENV/bin/python" -m pip uninstall -q -y clawboo-host >/dev/null 2>&1 || true
  args=(-e "$ROOT[test]" -e "$ROOT/meta")
  for plugin in "$ROOT"/plugins/*/; do args+=(-e "$plugin"); done
  "$VENV/bin/python" -m pip install -q "${args[@]}" >&2
  touch "$STAMP"
fi
