// The runtime cards: state at a glance, install with its live log, connect, disconnect,
// check a key. A key typed here goes into the request body and nowhere else: the field is
// cleared once the request is sent, and no reply ever carries it back.
import { api, postStream } from "./api.js";
import { errorText, facts, fill, flash, h } from "./dom.js";

// The native runtime's providers, in its priority order (kept equal to
// plugins/clawboo_native/clawboo_native/providers.py KNOWN_PROVIDERS by that plugin's tests).
export const NATIVE_PROVIDERS = [
  "anthropic", "openai", "openrouter", "ollama", "google", "xai", "groq", "mistral",
  "together", "cerebras", "moonshot",
];

const STATE_LABELS = {
  "ready": "✓ ready",
  "needs-auth": "! needs a key",
  "needs-login": "! needs sign-in",
  "not-installed": "✗ not installed",
};

// Per-runtime activity (install log, last message) survives re-rendering the cards.
const activity = new Map();

function activityFor(id) {
  if (!activity.has(id)) {
    const status = h("p", { class: "state", role: "status", "aria-live": "polite" });
    const progress = h("progress", { hidden: true, "aria-label": "Install progress" });
    const log = h("pre", { class: "log", role: "log", "aria-label": "Install log", hidden: true });
    activity.set(id, { status, progress, log, installing: false });
  }
  return activity.get(id);
}

/** Runtimes whose key the host can check against the provider (the native runtime). */
export function checksKeys(row) {
  return row.builtIn && row.authKind === "api-key";
}

function capabilityText(caps) {
  const on = Object.entries(caps)
    .filter(([, v]) => v === true)
    .map(([k]) => k);
  const models = (caps.models || []).length ? `; models: ${caps.models.join(", ")}` : "";
  return (on.join(", ") || "none") + models;
}

export function createRuntimes(ctx) {
  const container = document.getElementById("runtime-cards");

  async function refresh() {
    try {
      const data = await api("GET", "/api/runtimes");
      ctx.runtimes = data.runtimes;
      fill(container, data.runtimes.map(card));
      ctx.onRuntimes();
    } catch (err) {
      flash(`Could not load runtimes — ${errorText(err)}`, "error");
    }
  }

  function card(row) {
    const act = activityFor(row.id);
    const titleId = `rt-${row.id}-title`;
    return h(
      "article",
      { class: "card", "aria-labelledby": titleId, dataset: { runtime: row.id } },
      h("h3", { id: titleId }, row.name, " ", h("code", { class: "muted" }, row.id)),
      facts([
        ["Installed", row.installed ? (row.builtIn ? "yes (built in)" : "yes") : "no"],
        ["Health", row.health.ok ? "✓ ok" : `✗ ${row.health.message}`],
        ["Connection", h("span", { class: `badge ${row.connectionState}`, dataset: { field: "connectionState" } },
          STATE_LABELS[row.connectionState] || row.connectionState)],
        ["Auth", row.authKind + (row.envVar ? ` (${row.envVar})` : "")],
        ["Capabilities", capabilityText(row.capabilities)],
        ["Install command", row.installCommand ? h("code", {}, row.installCommand) : "– (built in)"],
      ]),
      actions(row, act),
      act.status,
      act.progress,
      act.log,
    );
  }

  function actions(row, act) {
    const parts = [];
    if (!row.builtIn && row.installCommand) {
      parts.push(h("div", { class: "buttons" },
        h("button", { type: "button", class: "install", disabled: act.installing,
          onclick: (e) => install(row, act, e.currentTarget) },
        row.installed ? "Reinstall" : "Install")));
    }
    if (row.authKind === "api-key") parts.push(keyForm(row, act));
    if (row.authKind === "oauth") {
      parts.push(h("div", { class: "buttons" },
        h("button", { type: "button", class: "connect", onclick: () => connect(row, act, {}) }, "Sign in…"),
        h("button", { type: "button", class: "disconnect", onclick: () => disconnect(row, act) }, "Disconnect")));
    }
    return parts;
  }

  function keyForm(row, act) {
    const keyId = `rt-${row.id}-key`;
    const providerId = `rt-${row.id}-provider`;
    const key = h("input", { id: keyId, name: "apiKey", type: "password", autocomplete: "off",
      spellcheck: "false" });
    const provider = checksKeys(row)
      ? h("select", { id: providerId, name: "provider" }, NATIVE_PROVIDERS.map((p) => h("option", { value: p }, p)))
      : null;
    const body = () => {
      const out = { apiKey: key.value.trim() };
      if (provider) out.provider = provider.value;
      key.value = ""; // the key leaves the page with the request and is not kept here
      return out;
    };
    return h("form", { class: "key-form", onsubmit: (e) => { e.preventDefault(); connect(row, act, body()); } },
      provider && [h("label", { for: providerId }, "Provider"), provider],
      h("label", { for: keyId }, "API key", row.hasCredential ? " (one is stored; never shown)" : ""),
      key,
      h("div", { class: "buttons" },
        h("button", { type: "submit", class: "connect" }, "Connect"),
        checksKeys(row) && h("button", { type: "button", class: "check-key", onclick: () => checkKey(row, act, body()) }, "Check key"),
        h("button", { type: "button", class: "disconnect", onclick: () => { key.value = ""; disconnect(row, act); } }, "Disconnect")));
  }

  async function connect(row, act, body) {
    act.status.textContent = "Connecting…";
    try {
      const reply = await api("POST", `/api/runtimes/${row.id}/connect`, body);
      if (reply.loginCommand) {
        fill(act.status, "Sign in from a terminal: ",
          h("code", { class: "login-command" }, reply.loginCommand), " — then refresh.");
      } else {
        act.status.textContent = `Connected — ${reply.connectionState}.`;
      }
    } catch (err) {
      act.status.textContent = `Connect failed — ${errorText(err)}`;
    }
    await refresh();
  }

  async function disconnect(row, act) {
    act.status.textContent = "Disconnecting…";
    try {
      const reply = await api("POST", `/api/runtimes/${row.id}/disconnect`);
      act.status.textContent = `Disconnected — ${reply.connectionState || "done"}.`;
    } catch (err) {
      act.status.textContent = `Disconnect failed — ${errorText(err)}`;
    }
    await refresh();
  }

  async function checkKey(row, act, body) {
    act.status.textContent = `Checking the ${body.provider} key…`;
    try {
      const reply = await api("POST", `/api/runtimes/${row.id}/healthcheck`, body);
      act.status.textContent = reply.ok ? `✓ The ${body.provider} key works.` : `✗ ${reply.error}`;
    } catch (err) {
      act.status.textContent = `✗ Key check failed — ${errorText(err)}`;
    }
  }

  async function install(row, act, button) {
    act.installing = true;
    button.disabled = true;
    act.progress.hidden = false;
    act.progress.removeAttribute("value"); // indeterminate while it runs
    act.log.hidden = false;
    act.log.textContent = "";
    act.status.textContent = `Installing ${row.name}…`;
    const line = (text) => {
      act.log.append(`${text}\n`);
      act.log.scrollTop = act.log.scrollHeight;
    };
    let failed = false;
    try {
      await postStream(`/api/runtimes/${row.id}/install`, undefined, (frame) => {
        if (frame.type === "progress") {
          act.status.textContent = `${frame.step}: ${frame.message}`;
          line(`» ${frame.message}`);
        } else if (frame.type === "output") {
          line(frame.line);
        } else if (frame.type === "error") {
          failed = true;
          act.status.textContent = `✗ Install failed — ${frame.code}: ${frame.message}`;
          line(`ERROR ${frame.code}: ${frame.message}`);
        } else if (frame.type === "complete") {
          act.progress.max = 1;
          act.progress.value = 1;
          act.status.textContent = `✓ Installed ${row.name}.` + (frame.warning ? ` Note: ${frame.warning}` : "");
          if (frame.warning) line(`note: ${frame.warning}`);
        }
      });
    } catch (err) {
      failed = true;
      act.status.textContent = `✗ Install refused — ${errorText(err)}`;
    } finally {
      act.installing = false;
      if (failed) act.progress.hidden = true;
      await refresh();
    }
  }

  document.getElementById("runtimes-refresh").addEventListener("click", refresh);
  return { refresh };
}
