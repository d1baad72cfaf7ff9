"""A scripted model on loopback that speaks each real CLI's wire protocol.

The real CLIs are pointed at it the way a user points them at a gateway: Claude Code through
``ANTHROPIC_BASE_URL`` (Anthropic Messages), Codex through a ``[model_providers.*]`` entry with
``wire_api = "responses"`` (OpenAI Responses), Hermes through a custom ``base_url`` (OpenAI
chat completions), Gemini CLI through ``GOOGLE_GEMINI_BASE_URL`` (``streamGenerateContent``).

What it answers is chosen by a marker in the request (the task description reaches the model
inside the prompt):

- ``SCENARIO:plain`` — one text answer, :data:`PLAIN_ANSWER`;
- ``SCENARIO:mcp`` — first a call of the tool whose name ends in ``add_comment`` with
  ``{"taskId": <TASK:id>, "body": MCP_COMMENT}``; once the request carries a tool result,
  the text :data:`MCP_ANSWER`;
- ``SCENARIO:auth401`` — HTTP 401 with the provider's error shape;
- ``SCENARIO:hang`` — the stream opens, sends a little text, then waits until the client
  hangs up (``hung`` is set so a test knows the CLI is mid-turn);
- no marker (a CLI's side call: title, quota, warm-up) — a short text answer.

Every request is recorded (path, headers without credentials, JSON body) in ``requests``.
Stdlib only: a threaded ``http.server`` streams server-sent events without a framework.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAIN_ANSWER = "All done: PLAIN-OK"
MCP_COMMENT = "hello from the real CLI"
MCP_ANSWER = "DONE-123"
SIDE_ANSWER = "ok"
_SCENARIO = re.compile(r"SCENARIO:([a-z0-9]+)")
_TASK = re.compile(r"TASK:([A-Za-z0-9_-]+)")


@dataclass
class Recorded:
    protocol: str
    path: str
    body: dict
    authorization: bool


@dataclass
class ScriptedModel:
    """Start with :meth:`start`; ``base_url`` is ``http://127.0.0.1:<port>``."""

    requests: list[Recorded] = field(default_factory=list)
    hung: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ScriptedModel:
        model = self

        class Handler(_Handler):
            scripted = model

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def for_scenario(self, scenario: str) -> list[Recorded]:
        marker = f"SCENARIO:{scenario}"
        return [r for r in self.requests if marker in json.dumps(r.body)]

    def tools_offered(self, scenario: str) -> set[str]:
        """Every tool name the CLI offered the model in that scenario's requests."""
        names: set[str] = set()
        for rec in self.for_scenario(scenario):
            names.update(_tool_names(rec.protocol, rec.body))
        return names


# --------------------------------------------------------------------------- request reading


def _tool_names(protocol: str, body: dict) -> list[str]:
    if protocol == "gemini":
        decls = []
        for tool in body.get("tools") or []:
            decls += tool.get("functionDeclarations") or []
        return [d.get("name", "") for d in decls]
    names = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if tool.get("type") == "namespace":  # Responses: a group of tools (codex's MCP servers)
            names += [f"{tool.get('name')}.{t.get('name')}" for t in tool.get("tools") or []]
            continue
        fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        names.append(fn.get("name", ""))
    return names


def _has_tool_result(protocol: str, body: dict) -> bool:
    if protocol == "anthropic":
        for msg in body.get("messages") or []:
            content = msg.get("content")
            if isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in content
            ):
                return True
        return False
    if protocol == "responses":
        items = body.get("input")
        return isinstance(items, list) and any(
            isinstance(i, dict) and i.get("type", "").endswith("_output") for i in items
        )
    if protocol == "chat":
        return any(m.get("role") == "tool" for m in body.get("messages") or [])
    if protocol == "gemini":
        for content in body.get("contents") or []:
            for part in content.get("parts") or []:
                if "functionResponse" in part:
                    return True
    return False


def _last_user_text(protocol: str, body: dict) -> str:
    """The text of the conversation's user turns (where the task prompt is)."""
    if protocol == "gemini":
        parts = [p for c in body.get("contents") or [] for p in c.get("parts") or []]
        return json.dumps(parts)
    key = "input" if protocol == "responses" else "messages"
    return json.dumps(body.get(key) or body.get("messages") or "")


def _json_schema(body: dict) -> dict | None:
    """The schema of a Gemini request asking for JSON output, or ``None``."""
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") != "application/json":
        return None
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
    return schema if isinstance(schema, dict) else {}


def _object_for(schema: dict):
    """A minimal value matching a (Gemini-style) JSON schema."""
    kind = str(schema.get("type") or "object").lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _object_for(sub) for name, sub in props.items()}
    if schema.get("enum"):
        return schema["enum"][0]
    return {"integer": 10, "number": 10, "boolean": False, "array": []}.get(kind, "simple")


# --------------------------------------------------------------------------- the handler


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedModel
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    def do_HEAD(self) -> None:
        self._json(200, {})

    def do_GET(self) -> None:
        # model lists and health probes some CLIs make at start-up
        if self.path.rstrip("/").endswith("/models"):
            models = [{"id": "scripted-model", "object": "model"}]
            self._json(200, {"object": "list", "data": models})
        else:
            self._json(200, {})

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        body = self._body()
        if path.endswith("/messages/count_tokens"):
            self._json(200, {"input_tokens": 10})
            return
        if path.endswith("/messages"):
            protocol = "anthropic"
        elif path.endswith("/responses"):
            protocol = "responses"
        elif path.endswith("/chat/completions"):
            protocol = "chat"
        elif ":streamGenerateContent" in path or ":generateContent" in path:
            protocol = "gemini"
        elif ":countTokens" in path:
            self._json(200, {"totalTokens": 10})
            return
        else:
            self._json(404, {"error": {"message": f"no such route {path}"}})
            return
        self.scripted.requests.append(
            Recorded(protocol, path, body, bool(self.headers.get("Authorization") or
                                                 self.headers.get("x-api-key") or
                                                 self.headers.get("x-goog-api-key")))
        )
        if protocol == "gemini" and _json_schema(body) is not None:
            # A side call wanting structured output (Gemini's model router): a valid object.
            answer = json.dumps(_object_for(_json_schema(body)))
            _WRITERS[protocol](self, "stream" in path.lower(), text=answer, model=None)
            return
        text = _last_user_text(protocol, body)
        scenario_match = _SCENARIO.search(text)
        scenario = scenario_match.group(1) if scenario_match else None
        if scenario == "auth401":
            self._reject(protocol)
            return
        stream = bool(body.get("stream")) or protocol == "gemini" and "stream" in path.lower()
        if scenario == "mcp" and not _has_tool_result(protocol, body):
            tool = next((n for n in _tool_names(protocol, body) if n.endswith("add_comment")), None)
            task = _TASK.search(text)
            if tool and task:
                args = {"taskId": task.group(1), "body": MCP_COMMENT}
                _WRITERS[protocol](self, stream, tool_call=(tool, args), model=body.get("model"))
                return
        answer = {"plain": PLAIN_ANSWER, "mcp": MCP_ANSWER}.get(scenario or "", SIDE_ANSWER)
        hang = scenario == "hang"
        _WRITERS[protocol](self, stream, text=answer, hang=hang, model=body.get("model"))

    # ----------------------------------------------------------------------- helpers

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reject(self, protocol: str) -> None:
        if protocol == "anthropic":
            payload = {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            }
        elif protocol == "gemini":
            payload = {
                "error": {"code": 401, "message": "API key not valid.", "status": "UNAUTHENTICATED"}
            }
        else:
            payload = {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        self._json(401, payload)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, data: dict, event: str | None = None) -> None:
        chunk = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data)}\n\n"
        self.wfile.write(chunk.encode())
        self.wfile.flush()

    def _hang(self) -> None:
        """Mid-turn: keep the stream open until the client leaves (or the model stops)."""
        self.scripted.hung.set()
        while not self.scripted.released.is_set():
            try:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.5)


# --------------------------------------------------------------------------- Anthropic Messages


def _anthropic(h: _Handler, stream: bool, *, text: str = "", tool_call=None, hang=False,
               model=None) -> None:
    msg_id = f"msg_{uuid.uuid4().hex[:20]}"
    usage = {"input_tokens": 25, "output_tokens": 7}
    if tool_call:
        name, args = tool_call
        block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": name,
                 "input": args}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": text}
        stop = "end_turn"
    if not stream:
        h._json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                      "content": [block], "stop_reason": stop, "stop_sequence": None,
                      "usage": usage})
        return
    h._start_sse()
    h._event({"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}}, "message_start")
    if tool_call:
        start = dict(block, input={})
        h._event({"type": "content_block_start", "index": 0, "content_block": start},
                 "content_block_start")
        h._event({"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps(block["input"])}},
            "content_block_delta")
    else:
        h._event({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start")
        h._event({"type": "content_block_delta", "index": 0,
                  "delta": {"type": "text_delta", "text": text}}, "content_block_delta")
        if hang:
            h._hang()
            return
    h._event({"type": "content_block_stop", "index": 0}, "content_block_stop")
    h._event({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
              "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta")
    h._event({"type": "message_stop"}, "message_stop")


# --------------------------------------------------------------------------- OpenAI Responses


def _responses(h: _Handler, stream: bool, *, text: str = "", tool_call=None, hang=False,
               model=None) -> None:
    resp_id = f"resp_{uuid.uuid4().hex[:20]}"
    usage = {"input_tokens": 25, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 32}
    if tool_call:
        name, args = tool_call
        item = {"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:20]}", "status":
                "completed", "call_id": f"call_{uuid.uuid4().hex[:20]}", "name": name,
                "arguments": json.dumps(args)}
        if "." in name:  # a tool inside a namespace: the call names both
            item["namespace"], item["name"] = name.split(".", 1)
    else:
        item = {"type": "message", "id": f"msg_{uuid.uuid4().hex[:20]}", "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()),
            "model": model, "output": [], "status": "in_progress"}
    if not stream:
        h._json(200, dict(base, output=[item], status="completed", usage=usage))
        return
    h._start_sse()
    seq = iter(range(1000))
    h._event({"type": "response.created", "sequence_number": next(seq), "response": base},
             "response.created")
    h._event({"type": "response.in_progress", "sequence_number": next(seq), "response": base},
             "response.in_progress")
    if tool_call:
        h._event({"type": "response.output_item.added", "sequence_number": next(seq),
                  "output_index": 0, "item": dict(item, arguments="", status="in_progress")},
                 "response.output_item.added")
        h._event({"type": "response.function_call_arguments.delta", "sequence_number":
                  next(seq), "output_index": 0, "item_id": item["id"],
                  "delta": item["arguments"]}, "response.function_call_arguments.delta")
        h._event({"type": "response.function_call_arguments.done", "sequence_number":
                  next(seq), "output_index": 0, "item_id": item["id"],
                  "arguments": item["arguments"]}, "response.function_call_arguments.done")
    else:
        h._event({"type": "response.output_item.added", "sequence_number": next(seq),
                  "output_index": 0, "item": dict(item, content=[], status="in_progress")},
                 "response.output_item.added")
        h._event({"type": "response.content_part.added", "sequence_number": next(seq),
                  "output_index": 0, "item_id": item["id"], "content_index": 0,
                  "part": {"type": "output_text", "text": "", "annotations": []}},
                 "response.content_part.added")
        h._event({"type": "response.output_text.delta", "sequence_number": next(seq),
                  "output_index": 0, "item_id": item["id"], "content_index": 0,
                  "delta": text}, "response.output_text.delta")
        if hang:
            h._hang()
            return
        h._event({"type": "response.output_text.done", "sequence_number": next(seq),
                  "output_index": 0, "item_id": item["id"], "content_index": 0, "text": text},
                 "response.output_text.done")
        h._event({"type": "response.content_part.done", "sequence_number": next(seq),
                  "output_index": 0, "item_id": item["id"], "content_index": 0,
                  "part": item["content"][0]}, "response.content_part.done")
    h._event({"type": "response.output_item.done", "sequence_number": next(seq),
              "output_index": 0, "item": item}, "response.output_item.done")
    h._event({"type": "response.completed", "sequence_number": next(seq),
              "response": dict(base, output=[item], status="completed", usage=usage)},
             "response.completed")


# --------------------------------------------------------------------------- chat completions


def _chat(h: _Handler, stream: bool, *, text: str = "", tool_call=None, hang=False,
          model=None) -> None:
    chat_id = f"chatcmpl-{uuid.uuid4().hex[:20]}"
    created = int(time.time())
    usage = {"prompt_tokens": 25, "completion_tokens": 7, "total_tokens": 32}
    if tool_call:
        name, args = tool_call
        call = {"index": 0, "id": f"call_{uuid.uuid4().hex[:20]}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)}}
        message = {"role": "assistant", "content": None, "tool_calls": [
            {k: v for k, v in call.items() if k != "index"}]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": text}
        finish = "stop"
    if not stream:
        h._json(200, {"id": chat_id, "object": "chat.completion", "created": created,
                      "model": model, "choices": [{"index": 0, "message": message,
                                                   "finish_reason": finish}],
                      "usage": usage})
        return

    def chunk(delta: dict, finish_reason=None, **extra) -> dict:
        return {"id": chat_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish_reason}], **extra}

    h._start_sse()
    h._event(chunk({"role": "assistant", "content": ""}))
    if tool_call:
        h._event(chunk({"tool_calls": [call]}))
    else:
        h._event(chunk({"content": text}))
        if hang:
            h._hang()
            return
    h._event(chunk({}, finish))
    h._event({"id": chat_id, "object": "chat.completion.chunk", "created": created,
              "model": model, "choices": [], "usage": usage})
    h.wfile.write(b"data: [DONE]\n\n")
    h.wfile.flush()


# --------------------------------------------------------------------------- Gemini


def _gemini(h: _Handler, stream: bool, *, text: str = "", tool_call=None, hang=False,
            model=None) -> None:
    if tool_call:
        name, args = tool_call
        part = {"functionCall": {"name": name, "args": args}}
    else:
        part = {"text": text}
    payload = {
        "candidates": [{"content": {"role": "model", "parts": [part]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 25, "candidatesTokenCount": 7,
                          "totalTokenCount": 32},
        "modelVersion": model or "gemini-scripted",
    }
    if not stream:
        h._json(200, payload)
        return
    h._start_sse()
    if hang:
        h._event({"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]})
        h._hang()
        return
    h._event(payload)


_WRITERS = {"anthropic": _anthropic, "responses": _responses, "chat": _chat, "gemini": _gemini}
