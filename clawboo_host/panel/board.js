// The board: tasks by status, create and edit, one task's comments, executions and branch,
// and the budgets.
import { api } from "./api.js";
import { duration, errorText, facts, fill, flash, h, tokens, usd, when } from "./dom.js";

export const STATUSES = ["backlog", "todo", "in_progress", "in_review", "blocked", "done", "cancelled"];

export function createBoard(ctx) {
  const columns = document.getElementById("board-columns");
  const detail = document.getElementById("task-detail");
  const budgets = document.getElementById("budgets");
  const createForm = document.getElementById("task-create");
  let openTaskId = null;

  async function refresh() {
    try {
      const [{ tasks }, { budgets: rows }] = await Promise.all([
        api("GET", "/api/board/tasks"),
        api("GET", "/api/budgets"),
      ]);
      ctx.tasks = tasks;
      renderColumns(tasks);
      renderBudgets(rows);
      ctx.onTasks();
      if (openTaskId) await showTask(openTaskId, { keepFocus: true });
    } catch (err) {
      flash(`Could not load the board — ${errorText(err)}`, "error");
    }
  }

  function renderColumns(tasks) {
    fill(columns, STATUSES.map((status) => {
      const mine = tasks.filter((t) => t.status === status);
      const headingId = `col-${status}`;
      return h("section", { class: "column", "aria-labelledby": headingId, dataset: { status } },
        h("h3", { id: headingId }, `${status.replace("_", " ")} (${mine.length})`),
        h("ul", {}, mine.map((t) => h("li", {},
          h("button", { type: "button", class: "task", dataset: { taskId: t.id },
            "aria-pressed": t.id === openTaskId ? "true" : "false",
            onclick: () => showTask(t.id) },
          t.title,
          h("span", { class: "muted small" }, ` · ${t.status}${t.assigneeRuntime ? ` · ${t.assigneeRuntime}` : ""}`))))));
    }));
  }

  function renderBudgets(rows) {
    if (!rows.length) {
      fill(budgets, h("p", { class: "muted" }, "No budgets set."));
      return;
    }
    fill(budgets, h("table", {},
      h("thead", {}, h("tr", {}, ["Scope", "Id", "Limit", "Spent", "Mode", "Status"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((b) => h("tr", {},
        h("td", {}, b.scope), h("td", {}, h("code", {}, b.scopeId)), h("td", {}, usd(b.limitUsd)),
        h("td", {}, usd(b.spentUsd)), h("td", {}, b.mode), h("td", {}, b.status))))));
  }

  async function showTask(taskId, { keepFocus = false } = {}) {
    openTaskId = taskId;
    let data;
    try {
      data = await api("GET", `/api/board/tasks/${taskId}`);
    } catch (err) {
      flash(`Could not load the task — ${errorText(err)}`, "error");
      return;
    }
    const { task, comments, executions, workspace } = data;
    const title = h("input", { id: "edit-title", name: "title", value: task.title, required: true });
    const description = h("textarea", { id: "edit-description", name: "description", rows: 4 });
    description.value = task.description || "";
    const verify = h("input", { id: "edit-verify", name: "verifyCommand", value: task.verifyCommand || "",
      placeholder: "none: the task goes to review", spellcheck: "false" });
    const status = h("select", { id: "edit-status", name: "status" },
      STATUSES.map((s) => h("option", { value: s, selected: s === task.status }, s)));
    const commentBox = h("textarea", { id: "comment-body", name: "body", rows: 2, required: true });

    const save = async (e) => {
      e.preventDefault();
      // a blank verify command clears it (PATCH treats "" as null)
      const body = { title: title.value, description: description.value, verifyCommand: verify.value };
      if (status.value !== task.status) body.status = status.value;
      await change(() => api("PATCH", `/api/board/tasks/${task.id}`, body), "Task saved.");
    };
    const comment = async (e) => {
      e.preventDefault();
      await change(() => api("POST", `/api/board/tasks/${task.id}/comments`, { body: commentBox.value }), "Comment added.");
    };

    fill(detail,
      h("div", { class: "view-head" },
        h("h3", { id: "task-detail-title", tabindex: "-1" }, `Task: ${task.title}`),
        h("div", { class: "buttons" },
          h("button", { type: "button", onclick: () => ctx.runTask(task.id) }, "Run this task…"),
          h("button", { type: "button", onclick: closeTask }, "Close"))),
      facts([
        ["Id", h("code", {}, task.id)],
        ["Status", task.status],
        ["Assignee", task.assigneeAgentId ? `${task.assigneeAgentId} (${task.assigneeRuntime || "?"})` : "–"],
        ["Branch", task.branchRef || (workspace && workspace.branch) || "–"],
        ["Worktree", (workspace && workspace.worktreePath) || task.worktreeRef || "–"],
        ["Updated", when(task.updatedAt)],
      ]),
      h("form", { class: "panel-form", id: "task-edit", onsubmit: save },
        h("label", { for: "edit-title" }, "Title"), title,
        h("label", { for: "edit-description" }, "Description"), description,
        h("label", { for: "edit-verify" }, "Verify command"), verify,
        h("label", { for: "edit-status" }, "Status"), status,
        h("button", { type: "submit" }, "Save")),
      h("h4", {}, `Executions (${executions.length})`),
      executions.length
        ? h("table", { class: "executions" },
          h("thead", {}, h("tr", {}, ["Runtime", "Status", "Cost", "Tokens", "Duration", "Started", "Summary / error"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, executions.map((x) => h("tr", { dataset: { execId: x.id } },
            h("td", {}, x.runtimeId), h("td", { class: "exec-status" }, x.status), h("td", {}, usd(x.costUsd)),
            h("td", {}, tokens(x.inputTokens, x.outputTokens)), h("td", {}, duration(x.startedAt, x.completedAt)),
            h("td", {}, when(x.startedAt)), h("td", { class: "clip" }, x.error || x.summary || "")))))
        : h("p", { class: "muted" }, "Not run yet."),
      h("h4", {}, `Comments (${comments.length})`),
      h("ol", { class: "comments" }, comments.map((c) => h("li", {},
        h("span", { class: "muted small" }, `${c.authorType}${c.authorAgentId ? ` ${c.authorAgentId}` : ""} · ${when(c.createdAt)}`),
        h("p", { class: "pre" }, c.body)))),
      h("form", { class: "panel-form", id: "comment-form", onsubmit: comment },
        h("label", { for: "comment-body" }, "Add a comment"), commentBox,
        h("button", { type: "submit" }, "Comment")));
    detail.hidden = false;
    columns.querySelectorAll("button.task").forEach((b) =>
      b.setAttribute("aria-pressed", b.dataset.taskId === taskId ? "true" : "false"));
    if (!keepFocus) detail.querySelector("#task-detail-title").focus();
  }

  function closeTask() {
    openTaskId = null;
    detail.hidden = true;
    fill(detail);
    columns.querySelector("button.task")?.focus();
    renderColumns(ctx.tasks || []);
  }

  async function change(call, done) {
    try {
      await call();
      flash(done);
    } catch (err) {
      flash(`Failed — ${errorText(err)}`, "error");
    }
    await refresh();
  }

  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(createForm);
    const body = Object.fromEntries([...form.entries()].filter(([, v]) => v !== ""));
    try {
      const { task } = await api("POST", "/api/board/tasks", body);
      createForm.reset();
      flash(`Created “${task.title}”.`);
      openTaskId = task.id;
    } catch (err) {
      flash(`Could not create the task — ${errorText(err)}`, "error");
    }
    await refresh();
  });

  document.getElementById("budget-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const path = `/api/budgets/${encodeURIComponent(form.get("scope"))}/${encodeURIComponent(form.get("scopeId"))}`;
    await change(() => api("PUT", path, { limitUsd: Number(form.get("limitUsd")), mode: form.get("mode") }), "Budget set.");
  });

  document.getElementById("board-refresh").addEventListener("click", refresh);
  return { refresh, showTask };
}
