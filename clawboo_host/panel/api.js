// Talking to the host's API: JSON calls and POST streams of Server-Sent Events.
// EventSource can only GET, so streams are read from fetch()'s ReadableStream.

/** A non-2xx answer. `body` is the parsed JSON reply ({"error": ...} or {"ok":false,...}). */
export class ApiError extends Error {
  constructor(status, body, text) {
    const message = (body && (body.error || body.reason)) || text || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.body = body;
  }
}

const listeners = { unauthorized: [] };

/** Called on every 401, so the page can ask for the access token. */
export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

async function readJson(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401) listeners.unauthorized.forEach((fn) => fn(body));
    throw new ApiError(response.status, body, text);
  }
  return body;
}

function request(method, body, accept) {
  const init = { method, headers: { Accept: accept }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return init;
}

/** One JSON call: resolves to the reply, throws ApiError for a non-2xx status. */
export async function api(method, path, body) {
  return readJson(await fetch(path, request(method, body, "application/json")));
}

/**
 * POST and read the reply as a stream of `data: <json>` frames, calling onFrame for each.
 * A refusal answered as plain JSON (400/404/409/422...) throws ApiError before any frame.
 */
export async function postStream(path, body, onFrame) {
  const response = await fetch(path, request("POST", body, "text/event-stream"));
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    return readJson(response);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of chunk.split("\n")) {
        if (line.startsWith("data: ")) onFrame(JSON.parse(line.slice(6)));
      }
    }
  }
  return null;
}
