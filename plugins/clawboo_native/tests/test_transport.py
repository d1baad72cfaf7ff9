"""The provider calls' HTTP transport, over real sockets on loopback: connection reuse, a
connection the server dropped, chunked and gzip answers, TLS, proxies, cancellation."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ipaddress
import json
import ssl
from pathlib import Path

import anyio
import clawboo_native
import httpx
import pytest
from clawboo_native.llm import choose_route, make_transport
from clawboo_native.transport import StreamsTransport

from clawboo_host.plugin_api import AbortSignal, Done, RunContext
from clawboo_host.testing.provider import FakeProvider

pytestmark = pytest.mark.anyio

KEY = "fake-provider-key"


def ctx_for(tmp_path: Path, env: dict, cwd: Path | None = None) -> RunContext:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return RunContext(
        run_id="exec-t",
        task_id="task-t",
        agent_id="clawboo-native",
        prompt="Read a.txt",
        cwd=cwd,
        env=env,
        home_dir=None,
        scratch_dir=scratch,
        abort=AbortSignal(),
    )


async def collect(ctx: RunContext) -> list:
    return [event async for event in clawboo_native.clawboo_runtime_run(ctx)]


def script_three_turns(provider: FakeProvider, wire) -> None:
    for n in range(2):
        call = (f"toolu_{n}", "read_file", {"path": "a.txt"})
        provider.respond("POST", "/v1/messages", 200, wire.anthropic(calls=[call]), times=1)
    provider.respond("POST", "/v1/messages", 200, wire.anthropic("done"))


async def test_a_run_keeps_one_connection_to_its_provider(tmp_path, wire):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("hello")
    with FakeProvider(keep_alive=30) as provider:
        script_three_turns(provider, wire)
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": provider.url}
        events = await collect(ctx_for(tmp_path, env, work))
        assert events[-1] == Done("success", summary="done", session_id="exec-t")
        assert len(provider.requests) == 3
        assert len({r.connection for r in provider.requests}) == 1


async def test_a_connection_the_server_closed_while_idle_is_replaced(tmp_path):
    with FakeProvider(keep_alive=0.2) as provider:
        provider.respond("POST", "/x", 200, {"n": 1})
        transport = StreamsTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
            await anyio.sleep(0.6)  # the server drops the idle connection
            assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
        first, second = provider.requests
        assert first.connection != second.connection


async def test_an_answer_that_closes_its_connection_is_not_reused(tmp_path):
    with FakeProvider(keep_alive=30) as provider:
        provider.respond("POST", "/x", 200, {"n": 1}, headers={"Connection": "close"})
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            for _ in range(2):
                assert (await client.post(provider.url + "/x", json={})).json() == {"n": 1}
        assert len({r.connection for r in provider.requests}) == 2


class RawServer:
    """An HTTP/1.1 server answering every request with the same raw bytes (after reading the
    request head and its Content-Length body); counts connections. ``close``: hang up after
    each answer."""

    def __init__(self, answer: bytes, tls: ssl.SSLContext | None = None, close=False) -> None:
        self.answer, self.tls, self.close = answer, tls, close
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = asyncio.Event()  # set when a client connection ends

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer)
                await writer.drain()
                if self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self.closed.set()


def chunked(data: bytes, size: int = 7) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def test_a_chunked_gzip_answer_is_decoded_and_the_connection_reused():
    payload = json.dumps({"content": "x" * 500}).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        b"transfer-encoding: chunked\r\n\r\n" + chunked(gzip.compress(payload))
    )
    async with RawServer(answer) as server:
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            for _ in range(3):
                response = await client.post(f"http://127.0.0.1:{server.port}/v1", json={"a": 1})
                assert response.json() == {"content": "x" * 500}
        assert server.connections == 1
        assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')


async def test_an_answer_cut_short_is_a_protocol_error():
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}"
    async with RawServer(answer, close=True) as server:
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})


async def test_nothing_listening_is_a_connect_error():
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=StreamsTransport()) as client:
            await client.post("http://127.0.0.1:9/v1", json={})


async def test_a_silent_server_is_a_read_timeout():
    async with RawServer(b"") as server:  # reads the request, never answers
        async with httpx.AsyncClient(transport=StreamsTransport(), timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})


async def test_a_cancelled_request_closes_its_connection():
    async with RawServer(b"") as server:  # never answers
        transport = StreamsTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            with anyio.move_on_after(0.3) as scope:
                await client.post(f"http://127.0.0.1:{server.port}/v1", json={})
            assert scope.cancelled_caught
            with anyio.fail_after(5):
                await server.closed.wait()  # the server sees the connection end
            assert transport._idle == {}


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clawboo test provider")])
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
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls_is_verified_against_the_runs_ca_file(tmp_path, wire):
    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    payload = json.dumps(wire.anthropic("over tls")).encode()
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(payload), payload)
    async with RawServer(answer, tls=server_tls) as server:
        base = f"https://127.0.0.1:{server.port}"
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": base}
        # without the run's CA the certificate is refused: no request is sent
        failed = await collect(ctx_for(tmp_path, {**env, "CLAWBOO_NATIVE_RETRIES": "0"}))
        assert failed[-1].reason == "error" and "could not reach" in failed[-1].summary
        assert server.requests == []
        events = await collect(ctx_for(tmp_path, {**env, "SSL_CERT_FILE": str(cert_file)}))
        assert events[-1] == Done("success", summary="over tls", session_id="exec-t")
        assert len(server.requests) == 1


async def test_a_proxy_in_the_runs_env_carries_the_call(tmp_path, wire):
    with FakeProvider() as proxy:
        target = "http://provider.invalid/v1/messages"
        proxy.respond("POST", target, 200, wire.anthropic("via proxy"))
        env = {
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": "http://provider.invalid",
            "HTTP_PROXY": proxy.url,
        }
        assert not isinstance(make_transport(choose_route(env, None), env), StreamsTransport)
        events = await collect(ctx_for(tmp_path, env))
        assert events[-1] == Done("success", summary="via proxy", session_id="exec-t")
        assert [r.path for r in proxy.requests] == [target]
        assert proxy.requests[0].headers["x-api-key"] == KEY
