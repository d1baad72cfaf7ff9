"""Every performance measure as a ratio against its floor, measured in the same run.

    .venv/bin/python bench/run_all.py [--quick]

Black box, as a user would: ``clawboo-host serve`` is started as a process on a temporary
data dir and HOME and spoken to over HTTP on loopback. Each measure's floor is timed in the
same run, interleaved with it where that is cheap, so a noisy machine moves both:

- list p50 / p99: ``GET /api/runtimes`` idle, against ``bench/floor_app.py`` (a bare FastAPI
  app on the same uvicorn serving the same bytes); and p99 while 30 mock runs are live;
- run: ``POST /api/runtimes/clawboo-mock/run`` on a git repo, the task writing one file,
  against ``git worktree add`` + write the file + ``git add`` + ``git commit`` + spawn
  ``/bin/true``;
- start: ``serve`` → first 200 of ``GET /api/runtimes``, against the bare app's start;
- native per turn: ``clawboo-native`` runs with 13 and with 1 ``read_file`` turns against a
  fake provider on loopback, the difference / 12 (the run's fixed cost cancels), against
  POSTing the same request bodies to the same fake provider and reading the answer.

Prints one table (measure, ours, floor, ratio, goal). No numbers are asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clawboo_host.testing.helpers import git, make_git_repo  # noqa: E402
from clawboo_host.testing.provider import FakeProvider  # noqa: E402

KEY = "sk-ant-" + "bench-not-a-real-key"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_for_200(url: str, proc: subprocess.Popen, port_file: Path, timeout: float = 60) -> str:
    """Poll for the port file, then for a 200 at ``url``; return the base URL."""
    deadline = time.monotonic() + timeout
    base = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode})")
        if base is None:
            try:
                port = int(port_file.read_text().strip())
                base = f"http://127.0.0.1:{port}"
            except (OSError, ValueError):
                time.sleep(0.002)
                continue
        try:
            if httpx.get(base + url, timeout=5).status_code == 200:
                return base
        except httpx.TransportError:
            pass
        time.sleep(0.002)
    raise RuntimeError("server did not answer 200 in time")


class Proc:
    """A server process: started, timed to its first 200, stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict, port_file: Path, probe: str) -> None:
        port_file.unlink(missing_ok=True)
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = wait_for_200(probe, self.proc, port_file)
        self.start_s = time.perf_counter() - self.started_at

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def host_env(home: Path, extra: dict | None = None) -> dict:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CLAWBOO_ENABLE_MOCK_RUNTIME": "1",
        "CLAWBOO_RATE_LIMIT_GENERAL": "100000000",
        "CLAWBOO_RATE_LIMIT_SENSITIVE": "100000000",
        "CLAWBOO_LOG_LEVEL": "WARNING",
        "CLAWBOO_NATIVE_RETRIES": "0",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
    }
    env.update(extra or {})
    return env


def start_host(tmp: Path, env: dict) -> Proc:
    data = tmp / "data"
    return Proc(
        [sys.executable, "-m", "clawboo_host.cli", "serve", "--port", "0", "--data-dir", str(data)],
        env,
        data / "api-port.txt",
        "/api/runtimes",
    )


def start_floor(tmp: Path, body: Path | None = None) -> Proc:
    port_file = tmp / "floor-port.txt"
    argv = [sys.executable, str(ROOT / "bench" / "floor_app.py"), str(port_file)]
    if body is not None:
        argv.append(str(body))
    return Proc(argv, dict(os.environ), port_file, "/api/runtimes")


def time_gets(url: str, n: int) -> list[float]:
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(20):
            client.get("/api/runtimes")
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            r = client.get("/api/runtimes")
            samples.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
    return samples


def create_task(client: httpx.Client, description: str, **fields) -> str:
    r = client.post("/api/board/tasks", json={"title": "bench", "description": description, **fields})
    assert r.status_code == 201, r.text
    return r.json()["task"]["id"]


def measure_list(tmp: Path, host: Proc, n: int, live_runs: int) -> list[tuple]:
    body_file = tmp / "runtimes.json"
    body_file.write_bytes(httpx.get(host.url + "/api/runtimes").content)
    floor = start_floor(tmp, body_file)
    try:
        ours_idle, floor_idle = [], []
        for _ in range(3):  # interleave, so drift moves both
            ours_idle += time_gets(host.url, n // 3)
            floor_idle += time_gets(floor.url, n // 3)
    finally:
        floor.stop()
    with httpx.Client(base_url=host.url, timeout=120) as client:
        ids = [create_task(client, "!sleep 15000") for _ in range(live_runs)]

        def run(task_id: str) -> dict:
            with httpx.Client(base_url=host.url, timeout=120) as c:
                return c.post(
                    "/api/runtimes/clawboo-mock/run", json={"taskId": task_id, "kind": "research"}
                ).json()

        with ThreadPoolExecutor(live_runs) as pool:
            futures = [pool.submit(run, i) for i in ids]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                busy = client.get("/api/board/tasks?status=in_progress").json()["tasks"]
                if len(busy) >= live_runs:
                    break
                time.sleep(0.05)
            busy_samples = time_gets(host.url, n // 2)
            live = len(client.get("/api/board/tasks?status=in_progress").json()["tasks"])
            for f in futures:
                f.result()
    return [
        ("GET /api/runtimes p50", statistics.median(ours_idle), statistics.median(floor_idle), 1.5, "ms"),
        ("GET /api/runtimes p99", percentile(ours_idle, 0.99), percentile(floor_idle, 0.99), None, "ms"),
        (
            f"GET /api/runtimes p99, {live} live runs",
            percentile(busy_samples, 0.99),
            percentile(floor_idle, 0.99),
            3.0,
            "ms",
        ),
    ]


def measure_run(tmp: Path, host: Proc, n: int) -> list[tuple]:
    repo = make_git_repo(tmp / "run-repo")
    floor_repo = make_git_repo(tmp / "floor-repo")
    ours, floor = [], []
    with httpx.Client(base_url=host.url, timeout=120) as client:
        for i in range(n + 2):
            task_id = create_task(client, "!write note.txt hello from the bench")
            t = time.perf_counter()
            r = client.post(
                "/api/runtimes/clawboo-mock/run",
                json={"taskId": task_id, "repoPath": str(repo)},
            )
            elapsed = (time.perf_counter() - t) * 1000
            assert r.status_code == 200 and r.json()["doneReason"] == "success", r.text
            t = time.perf_counter()
            tree = tmp / "floor-trees" / f"t{i}"
            git(floor_repo, "worktree", "add", "-q", "-b", f"bench/t{i}", str(tree))
            (tree / "note.txt").write_text("hello from the bench\n")
            git(tree, "add", "-A")
            git(tree, "commit", "-q", "-m", "bench")
            subprocess.run(["/bin/true"], check=True)
            floor_ms = (time.perf_counter() - t) * 1000
            if i >= 2:  # the first runs warm caches
                ours.append(elapsed)
                floor.append(floor_ms)
    return [("POST mock run on a repo (median)", statistics.median(ours), statistics.median(floor), 1.5, "ms")]


def measure_start(tmp: Path, n: int) -> list[tuple]:
    ours, floor = [], []
    for i in range(n):
        run_dir = tmp / f"start-{i}"
        run_dir.mkdir()
        (run_dir / "home").mkdir()
        host = start_host(run_dir, host_env(run_dir / "home"))
        ours.append(host.start_s * 1000)
        host.stop()
        bare = start_floor(run_dir)
        floor.append(bare.start_s * 1000)
        bare.stop()
    return [("serve → first 200 (median)", statistics.median(ours), statistics.median(floor), 2.0, "ms")]


def anthropic_reply(text: str = "", calls=()) -> dict:
    content = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "usage": {"input_tokens": 100, "output_tokens": 20},
    }


def measure_native(tmp: Path, n: int) -> list[tuple]:
    with FakeProvider() as provider:
        home = tmp / "native-home"
        home.mkdir()
        host = start_host(tmp / "native", host_env(home, {"ANTHROPIC_BASE_URL": provider.url}))
        try:
            repo = make_git_repo(tmp / "native-repo")
            final = anthropic_reply("Read it; done.")
            provider.respond("POST", "/v1/messages", 200, final)
            with httpx.Client(base_url=host.url, timeout=120) as client:
                r = client.post("/api/runtimes/clawboo-native/connect", json={"apiKey": KEY})
                assert r.status_code == 200, r.text

                def native_run(turns: int) -> tuple[float, list]:
                    provider.requests.clear()
                    for t in range(turns):
                        call = (f"toolu_{t}", "read_file", {"path": "README.md"})
                        provider.respond("POST", "/v1/messages", 200, anthropic_reply(calls=[call]), times=1)
                    task_id = create_task(client, "Read the README.")
                    start = time.perf_counter()
                    r = client.post(
                        "/api/runtimes/clawboo-native/run",
                        json={"taskId": task_id, "repoPath": str(repo), "keepForResume": False},
                    )
                    elapsed = (time.perf_counter() - start) * 1000
                    assert r.status_code == 200 and r.json()["doneReason"] == "success", r.text
                    posts = [q for q in provider.requests if q.method == "POST"]
                    assert len(posts) == turns + 1, len(posts)
                    return elapsed, posts

                long_runs, short_runs, floor_turns = [], [], []
                for i in range(n + 1):
                    long_ms, posts = native_run(13)
                    short_ms, _ = native_run(1)
                    # the floor: the same bodies (turns 2..13), POSTed to the same provider
                    headers = {
                        k: v
                        for k, v in posts[-1].headers.items()
                        if k in ("x-api-key", "anthropic-version", "content-type")
                    }
                    with httpx.Client(timeout=30) as raw:
                        t = time.perf_counter()
                        for q in posts[2:]:
                            raw.post(provider.url + "/v1/messages", content=q.body, headers=headers).json()
                        floor_ms = (time.perf_counter() - t) * 1000 / len(posts[2:])
                    if i:  # the first pair warms up
                        long_runs.append(long_ms)
                        short_runs.append(short_ms)
                        floor_turns.append(floor_ms)
        finally:
            host.stop()
    per_turn = (statistics.median(long_runs) - statistics.median(short_runs)) / 12
    return [("native per read_file turn", per_turn, statistics.median(floor_turns), 1.2, "ms")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument(
        "--only", default="", help="comma-separated subset: list,run,start,native (default all)"
    )
    args = parser.parse_args()
    q = args.quick
    only = {s.strip() for s in args.only.split(",") if s.strip()} or {"list", "run", "start", "native"}
    rows: list[tuple] = []
    tmp = Path(tempfile.mkdtemp(prefix="clawboo-bench-"))
    try:
        if only & {"list", "run"}:
            home = tmp / "home"
            home.mkdir()
            host = start_host(tmp / "main", host_env(home))
            try:
                if "list" in only:
                    rows += measure_list(tmp, host, 150 if q else 600, 30)
                if "run" in only:
                    rows += measure_run(tmp, host, 8 if q else 40)
            finally:
                host.stop()
        if "start" in only:
            rows += measure_start(tmp, 2 if q else 5)
        if "native" in only:
            rows += measure_native(tmp, 2 if q else 12)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'measure':<40} {'ours':>9} {'floor':>9} {'ratio':>6} {'goal':>6}")
    for name, ours, floor, goal, unit in rows:
        ratio = ours / floor if floor else float("inf")
        goal_text = f"≤{goal:.1f}" if goal else ""
        mark = "" if goal is None else (" ok" if ratio <= goal else " MISS")
        print(f"{name:<40} {ours:7.2f}{unit} {floor:7.2f}{unit} {ratio:6.2f} {goal_text:>6}{mark}")


if __name__ == "__main__":
    main()
