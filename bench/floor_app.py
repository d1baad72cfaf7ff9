"""The floor for the list and start measures: a bare FastAPI app on the same uvicorn, serving
fixed bytes at ``GET /api/runtimes``.

    python bench/floor_app.py PORT_FILE [BODY_FILE]

Binds port 0 the way the host does (``TCP_NODELAY`` on the listening socket), writes the
port to ``PORT_FILE`` and serves ``BODY_FILE``'s bytes (default ``{}``) as JSON.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response


def main() -> None:
    port_file = Path(sys.argv[1])
    body = Path(sys.argv[2]).read_bytes() if len(sys.argv) > 2 else b"{}"
    app = FastAPI()

    @app.get("/api/runtimes")
    async def runtimes() -> Response:
        return Response(body, media_type="application/json")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.setblocking(False)
    port_file.write_text(f"{sock.getsockname()[1]}\n")
    config = uvicorn.Config(app, http="h11", log_config=None, access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
