"""Small helpers for tests that drive a live host: git repositories, tasks, runs, SSE."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

GIT_IDENTITY = ("-c", "user.name=test", "-c", "user.email=test@localhost")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (with a throwaway identity) and return its stripped stdout."""
    return subprocess.run(
        ["git", "-C", str(repo), *GIT_IDENTITY, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_git_repo(path: Path) -> Path:
    """A real repository on ``main`` with one commit (a README)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "init")
    return path


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in ``directory``: a certificate for 127.0.0.1, valid for an
    hour, that is its own CA (name it in ``SSL_CERT_FILE`` to trust it)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clawboo test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def create_task(
    client: httpx.Client, title: str = "Do the thing", description: str = "", **fields
) -> dict:
    """``POST /api/board/tasks`` and return the task (asserts 201)."""
    response = client.post(
        "/api/board/tasks", json={"title": title, "description": description, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()["task"]


def task_detail(client: httpx.Client, task_id: str) -> dict:
    return client.get(f"/api/board/tasks/{task_id}").json()


def connect(client: httpx.Client, runtime_id: str, api_key: str, **body) -> dict:
    """``POST /api/runtimes/<id>/connect`` and return the body (asserts 200)."""
    response = client.post(f"/api/runtimes/{runtime_id}/connect", json={"apiKey": api_key, **body})
    assert response.status_code == 200, response.text
    return response.json()


def sse_frames(text: str) -> list[dict]:
    """The JSON frames of a ``text/event-stream`` body."""
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def run_streaming(client: httpx.Client, runtime_id: str, task_id: str, **body) -> list[dict]:
    """``POST /api/runtimes/<id>/run`` with ``Accept: text/event-stream``; every frame."""
    with client.stream(
        "POST",
        f"/api/runtimes/{runtime_id}/run",
        json={"taskId": task_id, **body},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, response.read()
        return sse_frames(response.read().decode())


def run_task(client: httpx.Client, runtime_id: str, task_id: str, **body) -> dict:
    """``POST /api/runtimes/<id>/run`` (plain JSON, not streamed) and return the result
    (asserts 200: a failed run is still a 200 with ``doneReason`` ``error``)."""
    response = client.post(f"/api/runtimes/{runtime_id}/run", json={"taskId": task_id, **body})
    assert response.status_code == 200, response.text
    return response.json()


def wait_until(condition, timeout: float = 20.0, what: str = "the condition"):
    """Poll ``condition()`` until it returns something truthy, and return that.

    Tests wait on a condition instead of sleeping and hoping: ``timeout`` only bounds a
    test that would otherwise hang, it is never what the test asserts.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_in_background(base_url: str, runtime_id: str, task_id: str, **body):
    """``POST /api/runtimes/<id>/run`` from a daemon thread, for a test that kills or aborts
    the run (or its server) meanwhile: the request's outcome, an error included, is ignored.
    Returns the thread."""
    import threading

    def post() -> None:
        try:
            httpx.post(
                f"{base_url}/api/runtimes/{runtime_id}/run",
                json={"taskId": task_id, **body},
                timeout=60,
            )
        except httpx.HTTPError:
            pass  # the server went away: that is what the test is about

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread
