"""``/openapi.json`` is the true contract (issue 8 item 9), checked fast on a live host.

The slow property-based fuzz lives in ``e2e/schema`` (``scripts/test-schema``); these tests
pin each fix: declared parameters and bodies, error responses, SSE media types, unique
operation ids, and ``Allow`` headers that name every method of a path.
"""

from __future__ import annotations

import warnings

import pytest

ROUTES_READING_JSON = {
    ("post", "/api/board/tasks"),
    ("patch", "/api/board/tasks/{task_id}"),
    ("post", "/api/board/tasks/{task_id}/comments"),
    ("put", "/api/budgets/{scope}/{scope_id}"),
    ("post", "/api/runtimes/{id}/connect"),
    ("post", "/api/runtimes/{id}/healthcheck"),
    ("post", "/api/runtimes/{id}/run"),
    ("post", "/api/onboarding/seed-native-team"),
}


@pytest.fixture
def server(clawboo_host_factory):
    return clawboo_host_factory()


@pytest.fixture
def client(server):
    with server.client() as c:
        yield c


@pytest.fixture
def document(client) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns on a duplicate operation id
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_operation_ids_are_unique_and_there_is_no_catch_all(document):
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    assert not any("{action" in path for path in document["paths"])
    assert "create_task" in ids and "run" in ids


def test_runtime_routes_declare_their_id(document):
    runtime_ops = [(p, op) for p, _, op in operations(document) if p.startswith("/api/runtimes/")]
    assert len(runtime_ops) == 5
    for path, op in runtime_ops:
        params = {(p["name"], p["in"], p["required"]) for p in op.get("parameters", [])}
        assert ("id", "path", True) in params, path


def test_every_route_that_reads_json_documents_its_body(document):
    with_body = {(m, p) for p, m, op in operations(document) if "requestBody" in op}
    assert with_body == ROUTES_READING_JSON
    create = document["paths"]["/api/board/tasks"]["post"]["requestBody"]
    schema = create["content"]["application/json"]["schema"]
    assert create["required"] is True and schema["required"] == ["title"]
    assert schema["properties"]["status"]["anyOf"][0]["enum"] == ["backlog", "todo"]


def test_errors_are_documented_as_json_error_bodies(document):
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, op in operations(document):
        responses = op["responses"]
        assert "422" not in responses or path.endswith("/run"), (method, path)
        for code in ("401", "403", "413", "429"):  # the guards answer these on every route
            assert code in responses, (method, path, code)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert list(response["content"]) == ["application/json"], (method, path, code)
    patch = document["paths"]["/api/board/tasks/{task_id}"]["patch"]["responses"]
    assert {"400", "404", "409"} <= set(patch)
    run = document["paths"]["/api/runtimes/{id}/run"]["post"]["responses"]
    assert run["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RunRefusal"
    }


def test_routes_that_need_the_board_document_its_503(document):
    needs_board = ("/api/board/", "/api/teams", "/api/agents", "/api/budgets", "/api/executions")
    needs_board += ("/api/hosts", "/api/onboarding")
    for path, method, op in operations(document):
        if path.startswith(needs_board) or path == "/api/runtimes/{id}/run":
            assert "503" in op["responses"], (method, path)
    listing = document["paths"]["/api/runtimes"]["get"]["responses"]
    assert "503" not in listing  # the runtime list never waits for the board


def test_streaming_routes_are_described_as_event_streams(document):
    install = document["paths"]["/api/runtimes/{id}/install"]["post"]["responses"]["200"]
    assert list(install["content"]) == ["text/event-stream"]
    event = install["content"]["text/event-stream"]["schema"]
    assert event["properties"]["data"]["contentMediaType"] == "application/json"
    run = document["paths"]["/api/runtimes/{id}/run"]["post"]["responses"]["200"]
    assert set(run["content"]) == {"application/json", "text/event-stream"}


def test_a_405_names_every_method_of_the_path(client):
    r = client.delete("/api/board/tasks")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}
    assert r.headers["allow"] == "GET, POST"
    r = client.head("/api/board/tasks")  # FastAPI routes serve HEAD only where declared
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    r = client.put("/api/board/tasks/t1")
    assert r.status_code == 405 and r.headers["allow"] == "GET, PATCH"
    r = client.get("/api/runtimes/claude-code/connect")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_unknown_runtime_ids_and_actions_without_a_catch_all(client):
    for method, path in (
        ("GET", "/api/runtimes/nope/run"),
        ("POST", "/api/runtimes/nope/bogus"),
        ("DELETE", "/api/runtimes/Claude-Code/connect"),
        ("POST", "/api/runtimes/openclaw/run"),
    ):
        r = client.request(method, path)
        rid = path.split("/")[3]
        assert (r.status_code, r.json()) == (404, {"error": f"unknown runtime '{rid}'"}), path
    r = client.post("/api/runtimes/claude-code/bogus")
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
