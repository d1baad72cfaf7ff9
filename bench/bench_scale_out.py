"""Several hosts on one PostgreSQL board: claims/s and run starts/s with 1, 2 and 4 hosts.

    python bench/bench_scale_out.py [--hosts 1 2 4] [--tasks 400] [--runs 200]

Starts a throwaway PostgreSQL cluster (as the tests do: Debian's ``postgresql`` binaries,
``initdb``/``pg_ctl``), then for each host count on a fresh database:

- claims/s: N ``serve`` processes are started; ``--tasks`` tasks are created and every task is
  run (``clawboo-mock``, kind ``research``, an instant ``!ok``) by two hosts at once, so each
  claim is contended across hosts; counted are the winning claims per second of wall time;
- run starts/s: ``--runs`` distinct tasks, each run once, spread round-robin over the hosts
  with 8 requests in flight per host; runs (claim → execution → runtime → report-up) per second.

Numbers depend on the machine (and what else runs on it); compare host counts within one run.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clawboo_host.testing.postgres import PostgresCluster  # noqa: E402
from clawboo_host.testing.server import serve_process  # noqa: E402

MOCK = "clawboo-mock"


def _env(url: str, home: Path) -> dict[str, str]:
    import os

    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "CLAWBOO_ENABLE_MOCK_RUNTIME": "1",
        "CLAWBOO_DATABASE_URL": url,
        "CLAWBOO_LOG_LEVEL": "WARNING",
        "CLAWBOO_RATE_LIMIT_GENERAL": "1000000",
    }


def _make_tasks(base: str, n: int) -> list[str]:
    with httpx.Client(base_url=base, timeout=60) as c:
        return [
            c.post("/api/board/tasks", json={"title": f"t{i}", "description": "!ok"}).json()[
                "task"
            ]["id"]
            for i in range(n)
        ]


def _run(base: str, task_id: str) -> int:
    with httpx.Client(base_url=base, timeout=120) as c:
        return c.post(
            f"/api/runtimes/{MOCK}/run",
            json={"taskId": task_id, "kind": "research", "assigneeAgentId": "bench"},
        ).status_code


def measure(cluster: PostgresCluster, hosts: int, tasks: int, runs: int, root: Path) -> dict:
    url = cluster.create_database()
    with ExitStack() as stack:
        urls = []
        for i in range(hosts):
            data = root / f"h{hosts}-{i}"
            data.mkdir()
            served = stack.enter_context(
                serve_process(
                    ["--port", "0", "--data-dir", str(data)],
                    _env(url, data),
                    data,
                    log=data / "log",
                )
            )
            urls.append(served.url)
        # claims: every task is run by two different hosts (the same host when there is one)
        ids = _make_tasks(urls[0], tasks)
        pairs = [(urls[(i + k) % hosts], t) for i, t in enumerate(ids) for k in range(2)]
        with ThreadPoolExecutor(max_workers=8 * hosts) as pool:
            start = time.perf_counter()
            codes = list(pool.map(lambda p: _run(*p), pairs))
            claim_s = time.perf_counter() - start
        won = codes.count(200)
        assert won == tasks and codes.count(409) == tasks, (won, codes.count(409))
        # run starts: distinct tasks, round-robin
        ids = _make_tasks(urls[0], runs)
        targets = list(zip(itertools.cycle(urls), ids, strict=False))
        with ThreadPoolExecutor(max_workers=8 * hosts) as pool:
            start = time.perf_counter()
            codes = list(pool.map(lambda p: _run(*p), targets))
            run_s = time.perf_counter() - start
        assert codes.count(200) == runs, codes
    return {"hosts": hosts, "claims_per_s": won / claim_s, "runs_per_s": runs / run_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with PostgresCluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        rows = [measure(cluster, n, args.tasks, args.runs, Path(tmp)) for n in args.hosts]
    print("| hosts | claims/s (each task contended by 2 hosts) | run starts/s |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['hosts']} | {r['claims_per_s']:.0f} | {r['runs_per_s']:.0f} |")


if __name__ == "__main__":
    main()
