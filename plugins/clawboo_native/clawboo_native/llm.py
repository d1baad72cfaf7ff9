"""Provider clients over plain httpx: Anthropic Messages and OpenAI-compatible chat completions.

No SDKs. One non-streaming request per model turn, in a provider-neutral shape:

- a **message** is ``{"role": "user"|"assistant", "content": [part, ...]}`` where a part is
  ``{"type": "text", "text"}``, ``{"type": "tool-call", "id", "name", "input"}`` or
  ``{"type": "tool-result", "id", "output", "is_error"}`` (tool results travel in a user
  message);
- a **tool** is :class:`ToolSpec` (name, description, JSON-Schema input);
- a turn returns :class:`Turn` (text, tool calls, token usage, and the cost when the provider
  reports one, as OpenRouter does).

Which provider and model a run uses is :func:`choose_route` (documented there). Every call has
a timeout, never follows a redirect (a redirect could carry the key to another origin), retries
a little on 408/409/429/5xx and connection failures, and is cancelled the moment the run's abort
signal is set. Failures become :class:`ProviderError` with a message that never contains the key.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from clawboo_host.plugin_api import AbortSignal
from clawboo_host.plugin_api.settings import positive_float

from .providers import KNOWN_PROVIDERS, PROVIDERS, Provider
from .seed import MODEL_DEFAULTS
from .transport import StreamsTransport

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_RETRIES = 2
RETRY_BASE_S = 0.5
RETRY_MAX_S = 8.0
RETRY_STATUSES = frozenset({408, 409, 429})
USER_AGENT = "clawboo-native/0.1"
MAX_ERROR_CHARS = 300
#: The most of one answer we read (decoded); a bigger one fails the turn instead of
#: filling the host's memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
CONTEXT_OVERFLOW_MESSAGE = "The task was too large for the model's context window."

_OVERFLOW = re.compile(
    r"context[ _-]?(overflow|length|window|limit)"
    r"|(prompt|input)\s+(is\s+)?too\s+(large|long)"
    r"|maximum context"
    r"|exceeds?\s+(the\s+)?(maximum\s+)?context"
    r"|too many tokens"
    r"|reduce the length of the (messages|prompt)",
    re.IGNORECASE,
)


class Aborted(Exception):
    """The run's abort signal was set while waiting on the provider (or a tool)."""


class ProviderError(Exception):
    """A provider call that produced no usable answer.

    ``code``: ``auth``, ``rate_limit``, ``overloaded``, ``bad_request``, ``network``,
    ``context_overflow`` or ``unknown``. ``str(err)`` is ``"<provider>: <status> <message>"``.
    """

    def __init__(self, provider: str, message: str, code: str, status: int | None = None):
        self.provider = provider
        self.message = message
        self.code = code
        self.status = status
        head = f"{provider}: {status} " if status is not None else f"{provider}: "
        super().__init__(head + message)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict


@dataclass(frozen=True)
class ToolCallRequest:
    id: str
    name: str
    input: dict


@dataclass
class Turn:
    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reported_cost_usd: float | None = None


@dataclass(frozen=True)
class Route:
    """The provider, model and key one run talks to."""

    provider: Provider
    model: str
    key: str  # the literal "ollama" for the keyless Ollama

    @property
    def name(self) -> str:
        return self.provider.id


# --------------------------------------------------------------------------- routing


def _connected(provider: Provider, env: Mapping[str, str]) -> str | None:
    """The key a provider would use, or None when it is not connected."""
    if provider.env_var is None:  # Ollama: connected when a server is configured
        return "ollama" if (env.get("OLLAMA_BASE_URL") or "").strip() else None
    return (env.get(provider.env_var) or "").strip() or None


def choose_route(env: Mapping[str, str], model: str | None) -> Route | None:
    """Pick the provider and model for a run, or None when no provider is connected.

    The rule: walk the providers in priority order (anthropic, openai, openrouter, ollama,
    google, xai, groq, mistral, together, cerebras, moonshot — the same order seeding and the
    health check use) and take the first one connected in the run's env: its key variable is
    set, or for Ollama ``OLLAMA_BASE_URL`` is set (keyless). The model is ``model`` when given,
    else that provider's default leader model (``seed.MODEL_DEFAULTS``).

    ``model`` may name the provider explicitly as ``<provider>:<model>`` (e.g.
    ``openai:gpt-4o``, ``ollama:llama3.2:3b``); that provider is then used if connected
    (Ollama always counts as connected when named explicitly), otherwise there is no route.
    """
    model = (model or "").strip() or None
    if model and ":" in model:
        prefix, rest = model.split(":", 1)
        provider = PROVIDERS.get(prefix.strip().lower())
        if provider is not None and rest.strip():
            key = _connected(provider, env) or ("ollama" if provider.env_var is None else None)
            return Route(provider, rest.strip(), key) if key else None
    for pid in KNOWN_PROVIDERS:
        provider = PROVIDERS[pid]
        key = _connected(provider, env)
        if key:
            return Route(provider, model or MODEL_DEFAULTS[pid][0], key)
    return None


# --------------------------------------------------------------------------- settings


def timeout_s(env: Mapping[str, str]) -> float:
    return positive_float(env, "CLAWBOO_NATIVE_TIMEOUT_S", DEFAULT_TIMEOUT_S)


def _retries(env: Mapping[str, str]) -> int:
    try:
        value = int(env.get("CLAWBOO_NATIVE_RETRIES", ""))
    except ValueError:
        return DEFAULT_RETRIES
    return min(max(value, 0), 5)


def _max_tokens(env: Mapping[str, str]) -> int:
    return int(positive_float(env, "CLAWBOO_NATIVE_MAX_TOKENS", DEFAULT_MAX_TOKENS))


# --------------------------------------------------------------------------- http client


def _proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy the run's env asks for this URL (``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``)."""

    def get(name: str) -> str:
        return (env.get(name) or env.get(name.lower()) or "").strip()

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost"):
        return None
    for entry in get("NO_PROXY").split(","):
        entry = entry.strip().lower().lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return get(f"{parts.scheme.upper()}_PROXY") or get("ALL_PROXY") or None


def _verify(env: Mapping[str, str]) -> ssl.SSLContext | bool:
    cafile = (env.get("SSL_CERT_FILE") or "").strip() or None
    capath = (env.get("SSL_CERT_DIR") or "").strip() or None
    if cafile and not os.path.isfile(cafile):
        cafile = None
    if capath and not os.path.isdir(capath):
        capath = None
    if not (cafile or capath):
        return True
    return ssl.create_default_context(cafile=cafile, capath=capath)


def make_transport(route: Route, env: Mapping[str, str]) -> httpx.AsyncBaseTransport:
    """The HTTP transport for one run's provider calls, proxy and CA from the run's env (the
    host process's own environment is not consulted).

    A transport, not a client: a client's cookie jar, auth and redirect handling are not
    wanted here (a redirect is never followed: it could carry the key to another origin), and
    cost a good part of a loopback turn. Without a proxy the calls go over
    :class:`~clawboo_native.transport.StreamsTransport`; through one, over httpx's own.
    """
    verify = _verify(env)
    proxy = _proxy_for(chat_url(route, env), env)
    if proxy:
        return httpx.AsyncHTTPTransport(verify=verify, proxy=proxy, trust_env=False)
    return StreamsTransport(verify)


# --------------------------------------------------------------------------- wire formats


def chat_url(route: Route, env: Mapping[str, str]) -> str:
    base = route.provider.base_url(env)
    if route.provider.wire == "anthropic":
        return f"{base.removesuffix('/v1')}/v1/messages"
    if route.provider.wire == "ollama" and not base.endswith("/v1"):
        base += "/v1"  # OLLAMA_BASE_URL=http://host:11434 means the OpenAI API under /v1
    return f"{base}/chat/completions"


def _headers(route: Route) -> dict[str, str]:
    common = {"content-type": "application/json", "user-agent": USER_AGENT}
    if route.provider.wire == "anthropic":
        return {"x-api-key": route.key, "anthropic-version": ANTHROPIC_VERSION, **common}
    return {"authorization": f"Bearer {route.key}", **common}


def anthropic_messages(messages: list[dict]) -> list[dict]:
    out = []
    for message in messages:
        blocks = []
        for part in message["content"]:
            kind = part["type"]
            if kind == "text":
                if part["text"]:  # Anthropic rejects empty text blocks
                    blocks.append({"type": "text", "text": part["text"]})
            elif kind == "tool-call":
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": part["id"],
                        "name": part["name"],
                        "input": part.get("input") or {},
                    }
                )
            elif kind == "tool-result":
                block = {
                    "type": "tool_result",
                    "tool_use_id": part["id"],
                    "content": part["output"],
                }
                if part.get("is_error"):
                    block["is_error"] = True
                blocks.append(block)
        out.append({"role": message["role"], "content": blocks})
    return out


def openai_messages(system: str, messages: list[dict]) -> list[dict]:
    out: list[dict] = [{"role": "system", "content": system}]
    for message in messages:
        parts = message["content"]
        texts = [p["text"] for p in parts if p["type"] == "text" and p["text"]]
        if message["role"] == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
            calls = [
                {
                    "id": p["id"],
                    "type": "function",
                    "function": {"name": p["name"], "arguments": json.dumps(p.get("input") or {})},
                }
                for p in parts
                if p["type"] == "tool-call"
            ]
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
            continue
        if texts:
            out.append({"role": "user", "content": "\n\n".join(texts)})
        for p in parts:
            if p["type"] == "tool-result":
                out.append({"role": "tool", "tool_call_id": p["id"], "content": p["output"]})
    return out


def request_body(
    route: Route,
    env: Mapping[str, str],
    system: str,
    messages: list[dict],
    tools: list[ToolSpec],
) -> dict:
    max_tokens = _max_tokens(env)
    if route.provider.wire == "anthropic":
        body: dict[str, Any] = {
            "model": route.model,
            "system": system,
            "max_tokens": max_tokens,
            "messages": anthropic_messages(messages),
        }
        if tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in tools
            ]
        return body
    body = {"model": route.model, "messages": openai_messages(system, messages)}
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in tools
        ]
    overridden = bool((env.get(f"{route.provider.id.upper()}_BASE_URL") or "").strip())
    if route.provider.id == "openai" and not overridden:
        body["max_completion_tokens"] = max_tokens  # api.openai.com's newer models want this
    else:
        body["max_tokens"] = max_tokens  # what the compatible servers understand
    if route.provider.id == "openrouter":
        body["usage"] = {"include": True}  # OpenRouter then reports the turn's cost
    return body


def _parse_arguments(raw: Any) -> dict:
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_raw": str(raw)}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def parse_anthropic(data: Any) -> Turn:
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise ValueError("no content in the answer")
    turn = Turn()
    texts = []
    for i, block in enumerate(data["content"]):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use" and isinstance(block.get("name"), str):
            turn.tool_calls.append(
                ToolCallRequest(
                    str(block.get("id") or f"toolu_{i}"),
                    block["name"],
                    _parse_arguments(block.get("input")),
                )
            )
    turn.text = "".join(texts)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    turn.input_tokens = _int(usage.get("input_tokens"))
    turn.output_tokens = _int(usage.get("output_tokens"))
    turn.cached_input_tokens = _int(usage.get("cache_read_input_tokens"))
    return turn


def parse_openai(data: Any) -> Turn:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices in the answer")
    message = choices[0].get("message") or {}
    if not isinstance(message, dict):
        raise ValueError("no message in the answer")
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ValueError("tool_calls is not a list")
    turn = Turn()
    content = message.get("content")
    if isinstance(content, str):
        turn.text = content
    elif isinstance(content, list):  # some servers answer with content parts
        turn.text = "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    for i, call in enumerate(raw_calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        turn.tool_calls.append(
            ToolCallRequest(
                str(call.get("id") or f"call_{i}"),
                function["name"],
                _parse_arguments(function.get("arguments")),
            )
        )
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    turn.input_tokens = _int(usage.get("prompt_tokens"))
    turn.output_tokens = _int(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        turn.cached_input_tokens = _int(details.get("cached_tokens"))
    cost = usage.get("cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        turn.reported_cost_usd = float(cost)
    return turn


# --------------------------------------------------------------------------- errors


def _error_code(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 529 or status >= 500:
        return "overloaded"
    if status in (400, 404, 422):
        return "bad_request"
    return "unknown"


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
        if isinstance(data.get("message"), str):
            return data["message"]
    return response.text.strip()


def scrub(text: str, key: str) -> str:
    """Remove the key (and nothing else) from a provider's text before anyone sees it."""
    if key and key != "ollama" and len(key) >= 4:
        text = text.replace(key, "***")
    return text


def http_error(route: Route, response: httpx.Response) -> ProviderError:
    status = response.status_code
    if status in (401, 403):
        return ProviderError(route.name, "Invalid API key.", "auth", status)
    if 300 <= status < 400:
        return ProviderError(
            route.name, "the provider answered with a redirect (not followed)", "unknown", status
        )
    text = " ".join(scrub(_error_text(response), route.key).split())
    if _OVERFLOW.search(text):
        return ProviderError(route.name, CONTEXT_OVERFLOW_MESSAGE, "context_overflow", status)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "…"
    return ProviderError(
        route.name, text or response.reason_phrase or "error", _error_code(status), status
    )


# --------------------------------------------------------------------------- abortable waits


async def abortable(abort: AbortSignal, fn, *args):
    """Await ``fn(*args)``, cancelling it the moment ``abort`` is set (then raise Aborted)."""
    with abort.cancel_scope():
        return await fn(*args)
    raise Aborted()


async def _sleep_unless_aborted(abort: AbortSignal, seconds: float) -> None:
    with anyio.move_on_after(seconds):
        await abort.wait()
    if abort.is_set:
        raise Aborted()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    if math.isnan(value):  # "nan" parses, and would make an invalid deadline
        return None
    return min(max(value, 0.0), RETRY_MAX_S)


# --------------------------------------------------------------------------- one turn


async def call_model(
    transport: httpx.AsyncBaseTransport,
    route: Route,
    env: Mapping[str, str],
    system: str,
    messages: list[dict],
    tools: list[ToolSpec],
    abort: AbortSignal,
) -> Turn:
    """One model turn. Raises :class:`ProviderError` or :class:`Aborted`."""
    url = chat_url(route, env)
    body = request_body(route, env, system, messages, tools)
    headers = _headers(route)
    t = timeout_s(env)
    timeouts = httpx.Timeout(t, connect=min(t, 15.0)).as_dict()
    attempts = _retries(env) + 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        delay = min(RETRY_BASE_S * 2**attempt, RETRY_MAX_S) * (0.8 + 0.4 * random.random())
        try:
            response = await abortable(abort, _post, transport, url, body, headers, t, timeouts)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # a bad base URL
            raise ProviderError(
                route.name, f"bad provider URL ({type(exc).__name__})", "bad_request"
            ) from None
        except (httpx.TimeoutException, TimeoutError):
            raise ProviderError(
                route.name, f"timed out after {timeout_s(env):g}s", "network"
            ) from None
        except (httpx.TransportError, OSError) as exc:
            if last:
                raise ProviderError(
                    route.name, f"could not reach the provider ({type(exc).__name__})", "network"
                ) from None
            await _sleep_unless_aborted(abort, delay)
            continue
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(
                route.name, f"request failed ({type(exc).__name__})", "bad_request"
            ) from None
        except _TooLarge as exc:
            raise ProviderError(
                route.name,
                f"the answer is larger than {MAX_RESPONSE_BYTES} bytes",
                "unknown",
                exc.status,
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json()
                return (
                    parse_anthropic(data)
                    if route.provider.wire == "anthropic"
                    else parse_openai(data)
                )
            except ValueError as exc:
                raise ProviderError(
                    route.name, f"unreadable answer ({exc})", "unknown", status
                ) from None
        if not last and (status in RETRY_STATUSES or status >= 500):
            wait = _retry_after(response)
            await _sleep_unless_aborted(abort, delay if wait is None else wait)
            continue
        raise http_error(route, response)
    raise ProviderError(route.name, "no answer", "unknown")  # pragma: no cover


class _TooLarge(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def _post(
    transport: httpx.AsyncBaseTransport,
    url: str,
    body: dict,
    headers: dict,
    total_s: float,
    timeouts: dict,
) -> httpx.Response:
    # ``timeouts`` bound each network operation; ``total_s`` bounds the whole call (a provider
    # dripping bytes slowly cannot hold a turn open forever). The body is read in chunks
    # up to MAX_RESPONSE_BYTES (after decompression), never buffered whole first.
    with anyio.fail_after(total_s):
        request = httpx.Request(
            "POST", url, json=body, headers=headers, extensions={"timeout": timeouts}
        )
        response = await transport.handle_async_request(request)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _TooLarge(response.status_code)
                chunks.append(chunk)
        finally:
            await response.aclose()
        response._content = b"".join(chunks)  # what ``aread()`` sets: .json()/.text work
    return response
