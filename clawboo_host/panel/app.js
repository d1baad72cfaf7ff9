// The panel's entry point: the three views (runtimes, board, run), switched by the URL hash
// so each view has an address and the back button works.
import { onUnauthorized } from "./api.js";
import { createBoard } from "./board.js";
import { flash } from "./dom.js";
import { createRun } from "./run.js";
import { createRuntimes } from "./runtimes.js";

const VIEWS = ["runtimes", "board", "run"];

const ctx = {
  runtimes: [],
  tasks: [],
  onRuntimes: () => run.onRuntimes(),
  onTasks: () => run.onTasks(),
  refreshBoard: () => board.refresh(),
  runTask: (taskId) => {
    run.selectTask(taskId);
    location.hash = "#run";
  },
};

const runtimes = createRuntimes(ctx);
const board = createBoard(ctx);
const run = createRun(ctx);

function showView() {
  const name = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "runtimes";
  for (const view of VIEWS) {
    document.getElementById(`view-${view}`).hidden = view !== name;
  }
  document.querySelectorAll("nav a[data-view]").forEach((a) => {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
}

onUnauthorized(() => {
  document.getElementById("signin").hidden = false;
});

window.addEventListener("hashchange", () => {
  flash("");
  showView();
  document.getElementById("main").focus({ preventScroll: true });
});
showView();
runtimes.refresh();
board.refresh();
