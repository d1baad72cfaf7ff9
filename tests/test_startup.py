"""Start-up does only what the first request needs: the MCP SDK is imported after the port
is bound (in the background), and the MCP tasks server still answers once it is up."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_app_does_not_import_the_mcp_sdk():
    code = (
        "import sys\n"
        "from clawboo_host.app import create_app\n"
        "from clawboo_host.cli import main\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_mcp_route_answers_once_the_background_start_is_done(clawboo_host_factory):
    server = clawboo_host_factory()
    with server.client() as client:
        assert client.get("/api/runtimes").status_code == 200
        # no run token: the tasks server's own 401, not the start-up 503
        response = client.post("/api/mcp/tasks", json={})
        assert response.status_code == 401, response.text
