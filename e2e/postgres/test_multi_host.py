"""Two real ``clawboo-host serve`` processes, separate data dirs, one real PostgreSQL board:
one board seen from both, exactly one claim across hosts, recovery of a SIGKILLed host's run
after its lease, an abort sent to the other host, and a cap budget spent on both hosts."""

from __future__ import annotations

import signal
import threading

import httpx

from clawboo_host.testing.helpers import run_streaming, wait_until

MOCK = "clawboo-mock"


def post(host, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
    return httpx.post(host.url + path, json=body or {}, timeout=kwargs.pop("timeout", 60))


def get(host, path: str) -> dict:
    response = httpx.get(host.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def new_task(host, description: str, title: str = "shared task") -> dict:
    response = post(host, "/api/board/tasks", {"title": title, "description": description})
    assert response.status_code == 201, response.text
    return response.json()["task"]


def run_in_thread(host, task_id: str, agent: str = "agent-1") -> tuple[threading.Thread, dict]:
    """Start a run (plain JSON) in a thread; ``out['response']`` once it answers."""
    out: dict = {}

    def target() -> None:
        try:
            out["response"] = post(
                host,
                f"/api/runtimes/{MOCK}/run",
                {"taskId": task_id, "kind": "research", "assigneeAgentId": agent},
                timeout=120,
            )
        except httpx.HTTPError as exc:  # the host was killed under it
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def running_execution(host, task_id: str) -> dict:
    def find():
        runs = get(host, f"/api/board/tasks/{task_id}")["executions"]
        return next((e for e in runs if e["status"] == "running"), None)

    return wait_until(find, what="a running execution")


def test_one_board_seen_from_both_hosts(two_hosts):
    alpha, beta = two_hosts
    task = new_task(alpha, "made on alpha")
    assert get(beta, f"/api/board/tasks/{task['id']}")["task"]["title"] == "shared task"
    comment = post(beta, f"/api/board/tasks/{task['id']}/comments", {"body": "from beta"})
    assert comment.status_code == 201
    bodies = [c["body"] for c in get(alpha, f"/api/board/tasks/{task['id']}")["comments"]]
    assert bodies == ["from beta"]
    for host in (alpha, beta):
        listed = get(host, "/api/hosts")["hosts"]
        assert sorted(h["name"] for h in listed) == ["alpha", "beta"]
        assert all(h["alive"] for h in listed)
        assert [h["name"] for h in listed if h["self"]] == ["alpha" if host is alpha else "beta"]


def test_a_claim_storm_across_two_hosts_has_exactly_one_winner(two_hosts):
    alpha, beta = two_hosts
    task = new_task(alpha, "!hang")
    barrier = threading.Barrier(40)
    codes: list[int] = []
    lock = threading.Lock()

    def contender(n: int) -> None:
        host = alpha if n % 2 else beta
        barrier.wait()
        response = post(
            host,
            f"/api/runtimes/{MOCK}/run",
            {"taskId": task["id"], "kind": "research", "assigneeAgentId": f"agent-{n}"},
            timeout=120,
        )
        with lock:
            codes.append(response.status_code)

    threads = [threading.Thread(target=contender, args=(n,), daemon=True) for n in range(40)]
    for t in threads:
        t.start()
    wait_until(lambda: len(codes) == 39, what="39 refusals")
    assert codes == [409] * 39
    winner = running_execution(alpha, task["id"])
    assert post(beta, f"/api/executions/{winner['id']}/abort").status_code == 200
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200] + [409] * 39
    runs = get(beta, f"/api/board/tasks/{task['id']}")["executions"]
    assert len(runs) == 1 and runs[0]["status"] == "cancelled"


def test_a_sigkilled_host_run_is_closed_by_the_other_after_its_lease(two_hosts):
    alpha, beta = two_hosts
    task = new_task(alpha, "!hang")
    run_in_thread(alpha, task["id"])
    execution = running_execution(beta, task["id"])
    assert get(beta, f"/api/board/tasks/{task['id']}")["task"]["status"] == "in_progress"
    alpha.proc.send_signal(signal.SIGKILL)
    alpha.proc.wait(30)

    def recovered():
        detail = get(beta, f"/api/board/tasks/{task['id']}")
        return detail if detail["executions"][0]["status"] != "running" else None

    detail = wait_until(recovered, timeout=60, what="beta to close alpha's run")
    closed = detail["executions"][0]
    assert closed["id"] == execution["id"]
    assert closed["status"] == "failed"
    assert closed["error"] == "interrupted: host alpha stopped answering"
    assert detail["task"]["status"] == "todo" and detail["task"]["assigneeAgentId"] is None
    hosts = {h["name"]: h for h in get(beta, "/api/hosts")["hosts"]}
    assert hosts["alpha"]["alive"] is False and hosts["beta"]["alive"] is True
    # beta can take the released task
    thread, out = run_in_thread(beta, task["id"])
    again = running_execution(beta, task["id"])
    assert post(beta, f"/api/executions/{again['id']}/abort").status_code == 200
    thread.join(60)
    assert out["response"].json()["doneReason"] == "aborted"


def test_an_abort_sent_to_the_other_host_stops_the_run(two_hosts):
    alpha, beta = two_hosts
    task = new_task(alpha, "!hang")
    thread, out = run_in_thread(alpha, task["id"])
    execution = running_execution(alpha, task["id"])
    response = post(beta, f"/api/executions/{execution['id']}/abort")
    assert response.status_code == 200, response.text
    assert response.json()["requested"] is True
    hosts = {h["id"]: h["name"] for h in get(beta, "/api/hosts")["hosts"]}
    assert hosts[response.json()["hostId"]] == "alpha"
    wait_until(lambda: "response" in out, what="alpha's run to stop")
    body = out["response"].json()
    assert (body["doneReason"], body["status"]) == ("aborted", "todo")
    detail = get(beta, f"/api/board/tasks/{task['id']}")
    assert detail["executions"][0]["status"] == "cancelled"
    again = post(beta, f"/api/executions/{execution['id']}/abort")
    assert again.status_code == 409 and "already finished" in again.json()["error"]
    assert post(beta, "/api/executions/nope/abort").status_code == 404


def test_a_cap_budget_spent_across_both_hosts_pauses_the_scope_everywhere(two_hosts):
    alpha, beta = two_hosts
    put = httpx.put(
        alpha.url + "/api/budgets/agent/agent-x", json={"limitUsd": 1, "mode": "cap"}, timeout=30
    )
    assert put.status_code == 200, put.text
    first = new_task(alpha, "!cost 0.6\n!hang", title="first")
    t1, out1 = run_in_thread(alpha, first["id"], agent="agent-x")

    def spent(host) -> float:
        (budget,) = get(host, "/api/budgets")["budgets"]
        return budget["spentUsd"]

    wait_until(lambda: spent(beta) == 0.6, what="alpha's spend on the shared budget")
    second = new_task(beta, "!cost 0.6\n!hang", title="second")
    t2, out2 = run_in_thread(beta, second["id"], agent="agent-x")
    wait_until(lambda: "response" in out1 and "response" in out2, what="both runs to stop")
    for out in (out1, out2):
        body = out["response"].json()
        assert (body["doneReason"], body["status"], body["summary"]) == (
            "aborted",
            "todo",
            "auto-paused (budget)",
        )
    for host in (alpha, beta):
        (budget,) = get(host, "/api/budgets")["budgets"]
        assert budget["status"] == "paused" and budget["spentUsd"] == 1.2
    third = new_task(alpha, "", title="third")
    for host in (alpha, beta):
        refused = post(
            host,
            f"/api/runtimes/{MOCK}/run",
            {"taskId": third["id"], "kind": "research", "assigneeAgentId": "agent-x"},
        )
        assert refused.status_code == 422 and refused.json()["reason"] == "budget_paused"


def test_the_database_password_reaches_neither_logs_nor_runs(start_host, pg_url, tmp_path):
    """The test cluster trusts every local connection, so any password in the URL works."""
    password = "pg-s3cret-" + "x" * 12
    url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")
    host = start_host("gamma", CLAWBOO_DATABASE_URL=url)
    task = new_task(host, "!exec env")
    with httpx.Client(base_url=host.url, timeout=60) as client:
        frames = run_streaming(client, MOCK, task["id"], kind="research")
    printed = "".join(f.get("text", "") for f in frames if f["type"] == "text-delta")
    assert "CLAWBOO_HOST_NAME=gamma" in printed  # the run's environment was printed...
    assert "CLAWBOO_DATABASE_URL" not in printed and password not in printed  # ...not the URL
    log = (tmp_path / "host-gamma.log").read_text()
    assert "postgres:***@" in log and password not in log
