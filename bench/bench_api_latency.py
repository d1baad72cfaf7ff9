"""API latency, as ratios against a floor measured in the same run.

    python bench/bench_api_latency.py [--requests 200] [--runs 50]

- floor: a bare Starlette app on uvicorn (uvicorn binds its own socket);
- trivial: a small host route (GET /api/budgets) on our own bound socket — a ratio near 1
  means our socket setup (TCP_NODELAY) adds nothing;
- runtimes idle: GET /api/runtimes with no run in flight;
- runtimes busy: the same while --runs mock runs are in flight (they sleep), which shows
  whether runs block the event loop;
- memory: the process's RSS after two rounds of --runs runs, against the RSS after one
  round (a ratio near 1 means finished runs leave nothing behind).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clawboo_host.app import create_app  # noqa: E402
from clawboo_host.config import HostConfig  # noqa: E402
from clawboo_host.registry import build_registry  # noqa: E402
from clawboo_host.testing.server import LiveServer  # noqa: E402


def median_ms(client: httpx.Client, path: str, n: int) -> float:
    client.get(path)  # warm up the connection
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(samples)


def floor_server():
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    floor, floor_url = floor_server()
    with httpx.Client(base_url=floor_url) as client:
        floor_ms = median_ms(client, "/", args.requests)
    floor.should_exit = True

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "CLAWBOO_ENABLE_MOCK_RUNTIME": "1",
            "HOME": tmp,
            "PATH": "/usr/bin:/bin",
            "CLAWBOO_RATE_LIMIT_GENERAL": "1000000",
        }

        def build(port: int):
            config = HostConfig(data_dir=Path(tmp) / "data", port=port, env=env)
            return create_app(config, build_registry(env=env))

        with LiveServer(build) as server, server.client() as client:
            trivial_ms = median_ms(client, "/api/budgets", args.requests)
            idle_ms = median_ms(client, "/api/runtimes", args.requests // 4)
            tasks = [
                client.post(
                    "/api/board/tasks", json={"title": f"t{i}", "description": "!sleep 8000"}
                ).json()["task"]
                for i in range(args.runs)
            ]

            def run(task):
                with server.client() as c:
                    return c.post(
                        "/api/runtimes/clawboo-mock/run",
                        json={"taskId": task["id"], "kind": "research"},
                    ).json()

            def round_of_runs() -> None:
                batch = [
                    client.post(
                        "/api/board/tasks", json={"title": "m", "description": "!ok x"}
                    ).json()["task"]
                    for _ in range(args.runs)
                ]
                with ThreadPoolExecutor(args.runs) as pool:
                    assert all(r["status"] == "done" for r in pool.map(run, batch))

            with ThreadPoolExecutor(args.runs) as pool:
                futures = [pool.submit(run, t) for t in tasks]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    busy = client.get("/api/board/tasks?status=in_progress").json()["tasks"]
                    if len(busy) >= args.runs:
                        break
                    time.sleep(0.05)
                in_flight = len(client.get("/api/board/tasks?status=in_progress").json()["tasks"])
                busy_ms = median_ms(client, "/api/runtimes", args.requests // 4)
                results = [f.result() for f in futures]
            assert all(r["status"] == "done" for r in results), results[:3]
            process = psutil.Process()
            rss_one = process.memory_info().rss
            round_of_runs()
            round_of_runs()
            rss_three = process.memory_info().rss

    print(f"floor (bare uvicorn)          {floor_ms:7.2f} ms")
    print(
        f"trivial host route            {trivial_ms:7.2f} ms   ratio to floor  {trivial_ms / floor_ms:5.2f}"
    )
    print(
        f"GET /api/runtimes idle        {idle_ms:7.2f} ms   ratio to floor  {idle_ms / floor_ms:5.2f}"
    )
    print(
        f"GET /api/runtimes, {in_flight:>2} runs   {busy_ms:7.2f} ms   ratio to idle   {busy_ms / idle_ms:5.2f}"
    )
    print(
        f"RSS after {3 * args.runs} runs vs {args.runs}    {rss_three / 2**20:7.1f} MiB ratio           {rss_three / rss_one:5.2f}"
    )


if __name__ == "__main__":
    main()
