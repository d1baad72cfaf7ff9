// Building the page: elements from data with textContent only (never innerHTML), and the
// small formatters every view shares.

/** h("p", {class: "x", onclick: fn}, "text", child...) → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A definition list from [term, value] pairs. */
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function usd(value) {
  if (value === null || value === undefined) return "–";
  return `$${Number(value).toFixed(4).replace(/0{1,2}$/, "")}`; // $0.0125, $0.25, $5.00
}

export function tokens(inputTokens, outputTokens) {
  return `${inputTokens ?? 0} in / ${outputTokens ?? 0} out`;
}

export function duration(startedAt, completedAt) {
  if (!startedAt) return "–";
  const end = completedAt ? Date.parse(completedAt) : Date.now();
  const ms = Math.max(0, end - Date.parse(startedAt));
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

/** Show a short message in the page's status line (announced to screen readers). */
export function flash(message, kind = "info") {
  const el = document.getElementById("flash");
  el.textContent = message;
  el.dataset.kind = kind;
}

/** The message to show for a failed call: "<status>: <error>". */
export function errorText(err) {
  return err && err.status ? `${err.status}: ${err.message}` : String(err && err.message ? err.message : err);
}
