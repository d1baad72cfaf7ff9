// Run a task on a runtime and watch its events arrive. The run's first frame carries its
// execution id, which the Abort button posts to /api/executions/{id}/abort; the final
// `result` frame refreshes the board, so the task's new status shows without a reload.
import { api, postStream } from "./api.js";
import { errorText, fill, h, tokens, usd } from "./dom.js";

const RUNNABLE = new Set(["backlog", "todo", "in_progress", "in_review", "blocked"]);
const MAX_SHOWN = 2000; // characters of one tool input/output shown in the log
// What to do about each refusal the run route answers before it starts (docs/api.md).
const REFUSAL_HINTS = {
  not_found: "the task no longer exists",
  too_deep: "the task is nested too deep to dispatch",
  connected_substrate: "this runtime is a connected substrate and does not take runs here",
  budget_paused: "a cap budget for this agent, mission or team is paused — raise it on the board",
  conflict: "the task is already claimed by another run (or not in a runnable status)",
  workspace_unavailable: "a code run needs a repository path — give one, or pick research/review",
};

function clip(text) {
  const s = typeof text === "string" ? text : JSON.stringify(text);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}… (${s.length - MAX_SHOWN} more)` : s;
}

/** One log line for a frame: [label, text]. Text deltas are merged by the caller. */
function describe(frame) {
  switch (frame.type) {
    case "status":
      return ["status", frame.execId ? `${frame.phase} (execution ${frame.execId})` : frame.phase];
    case "tool-call":
      return ["tool call", `${frame.name} ${clip(frame.input ?? {})}`];
    case "tool-result":
      return [frame.isError ? "tool error" : "tool result", `${frame.name}: ${clip(frame.output ?? "")}`];
    case "cost":
      return ["cost", `${usd(frame.costUsd)} · ${tokens(frame.usage?.inputTokens, frame.usage?.outputTokens)} tokens${frame.model ? ` · ${frame.model}` : ""}`];
    case "error":
      return [frame.fatal ? "error (fatal)" : "error", `${frame.code}: ${frame.message}`];
    case "verification": // the verify gate: a start per attempt, an end with the verdict
      if (frame.phase === "start") return ["verifying", `attempt ${frame.attempt}: ${frame.command}`];
      if ("passed" in frame) {
        const verdict = frame.passed ? "✓ passed" : `✗ failed (exit ${frame.exitCode ?? "?"})`;
        return ["verification", `${verdict}: ${frame.command}${frame.outputTail ? `\n${clip(frame.outputTail)}` : ""}`];
      }
      return ["verification", clip(frame)];
    case "result": {
      const v = frame.verification;
      const verified = v ? ` · verification ${v.passed ? "passed" : "failed"} (${v.attempts} attempt${v.attempts === 1 ? "" : "s"})` : "";
      return ["result", `${frame.doneReason} → task ${frame.status}${verified} · cost ${usd(frame.costUsd)} · ${frame.summary}`];
    }
    default: {
      const { type, ...rest } = frame;
      return [type, clip(rest)];
    }
  }
}

export function createRun(ctx) {
  const form = document.getElementById("run-form");
  const taskSelect = document.getElementById("run-task");
  const runtimeSelect = document.getElementById("run-runtime");
  const start = document.getElementById("run-start");
  const abortButton = document.getElementById("run-abort");
  const state = document.getElementById("run-state");
  const events = document.getElementById("run-events");
  let execId = null;
  let running = false;

  function syncOptions(select, items, value, label) {
    const keep = select.value;
    fill(select, items.map((item) => h("option", { value: value(item) }, label(item))));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }

  function onTasks() {
    const tasks = (ctx.tasks || []).filter((t) => RUNNABLE.has(t.status));
    syncOptions(taskSelect, tasks, (t) => t.id, (t) => `${t.title} (${t.status})`);
  }

  function onRuntimes() {
    syncOptions(runtimeSelect, ctx.runtimes || [], (r) => r.id, (r) => `${r.name} — ${r.connectionState}`);
  }

  function selectTask(taskId) {
    onTasks();
    taskSelect.value = taskId;
  }

  function logFrame(frame) {
    const last = events.lastElementChild;
    if (frame.type === "text-delta") {
      if (last && last.dataset.type === "text-delta" && last.dataset.channel === (frame.channel || "")) {
        last.querySelector(".text").append(frame.text);
        return;
      }
      const label = frame.channel === "reasoning" ? "thinking" : "text";
      events.append(h("li", { dataset: { type: "text-delta", channel: frame.channel || "" } },
        h("strong", {}, `${label}: `), h("span", { class: "text pre" }, frame.text)));
      return;
    }
    const [label, text] = describe(frame);
    events.append(h("li", { dataset: { type: frame.type } }, h("strong", {}, `${label}: `), h("span", { class: "pre" }, text)));
  }

  function setRunning(on) {
    running = on;
    start.disabled = on;
    abortButton.disabled = !(on && execId);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (running) return;
    const data = new FormData(form);
    const runtime = data.get("runtime");
    const body = { taskId: data.get("taskId"), kind: data.get("kind") };
    if (data.get("repoPath")) body.repoPath = data.get("repoPath").trim();
    if (data.get("model")) body.model = data.get("model").trim();
    execId = null;
    events.replaceChildren();
    state.textContent = `Starting on ${runtime}…`;
    setRunning(true);
    let result = null;
    try {
      const plain = await postStream(`/api/runtimes/${runtime}/run`, body, (frame) => {
        if (frame.type === "status" && frame.execId) {
          execId = frame.execId;
          abortButton.disabled = false;
          state.textContent = `Running (execution ${execId})…`;
        }
        if (frame.type === "result") result = frame;
        logFrame(frame);
      });
      if (plain) { // a host that answered without streaming: still a result
        result = plain;
        logFrame({ type: "result", ...plain });
      }
      state.textContent = result
        ? `Finished: ${result.doneReason} — task is now ${result.status}.`
        : "The stream ended without a result.";
    } catch (err) {
      const hint = REFUSAL_HINTS[err.body && err.body.reason];
      state.textContent = `Refused — ${errorText(err)}${hint ? `: ${hint}` : ""}`;
    } finally {
      execId = null;
      setRunning(false);
      await ctx.refreshBoard();
    }
  });

  abortButton.addEventListener("click", async () => {
    if (!execId) return;
    abortButton.disabled = true;
    state.textContent = `Aborting execution ${execId}…`;
    try {
      await api("POST", `/api/executions/${execId}/abort`);
    } catch (err) {
      state.textContent = `Abort failed — ${errorText(err)}`;
    }
  });

  return { onTasks, onRuntimes, selectTask };
}
