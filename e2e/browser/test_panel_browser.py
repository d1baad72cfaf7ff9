"""Click through the runtimes panel in headless Chromium against a live host.

Every wait is on a condition in the page (Playwright's ``expect``), never a sleep.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from clawboo_host.testing.helpers import create_task, task_detail
from clawboo_host.testing.provider import FakeProvider

WIDE = {"width": 1280, "height": 800}  # the page fixture's default
NARROW = {"width": 390, "height": 844}
KEY = "sk-or-v1-panel-browser-secret-4242"
TOKEN = "browser-access-token-0123456789"


def card(page, runtime_id):
    return page.locator(f'article.card[data-runtime="{runtime_id}"]')


def open_view(page, name):
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.locator(f"#view-{name.lower()}")).to_be_visible()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_every_runtime_has_a_card_with_its_state(host, page, shot):
    with host.client() as api:
        rows = {r["id"]: r for r in api.get("/api/runtimes").json()["runtimes"]}
    assert {"claude-code", "codex", "hermes", "clawboo-native", "clawboo-mock"} <= set(rows)
    page.goto(host.url + "/")
    expect(page.locator("article.card")).to_have_count(len(rows))
    for rid in rows:
        c = card(page, rid)
        expect(c).to_be_visible()
        expect(c.get_by_role("heading")).to_contain_text(rows[rid]["name"])
        state = c.locator('[data-field="connectionState"]')
        expect(state).to_contain_text(
            {
                "ready": "ready",
                "needs-auth": "needs a key",
                "needs-login": "needs sign-in",
                "not-installed": "not installed",
            }[rows[rid]["connectionState"]]
        )
    expect(card(page, "claude-code")).to_contain_text("npm install -g @anthropic-ai/claude-code@2")
    expect(card(page, "clawboo-mock")).to_contain_text("streaming, mcp, worktrees")
    # Install only where there is something to install; Check key only on the native card.
    expect(card(page, "clawboo-mock").get_by_role("button")).to_have_count(0)
    expect(card(page, "clawboo-native").get_by_role("button", name="Check key")).to_be_visible()
    expect(card(page, "claude-code").get_by_role("button", name="Check key")).to_have_count(0)
    shot(page, "runtimes")
    shot(page, "docs-runtimes", full_page=False)

    page.set_viewport_size(NARROW)
    expect(card(page, "clawboo-mock")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, "runtimes-narrow")


def test_install_streams_its_log_and_shows_errors_with_their_code(host, page, shot):
    page.goto(host.url + "/")
    claude = card(page, "claude-code")
    expect(claude.locator('[data-field="connectionState"]')).to_contain_text("not installed")
    claude.get_by_role("button", name="Install").click()
    log = claude.get_by_role("log", name="Install log")
    expect(log).to_contain_text("npm http fetch GET 200")
    expect(log).to_contain_text("added 1 package in 2s")
    expect(claude.get_by_role("status")).to_contain_text("Installed Claude Code")
    expect(claude.locator("progress")).to_have_attribute("value", "1")
    # the card re-reads the host: the CLI the fake npm installed is found now
    expect(claude.locator('[data-field="connectionState"]')).to_contain_text("needs a key")
    expect(claude.get_by_role("button", name="Reinstall")).to_be_enabled()

    codex = card(page, "codex")
    codex.get_by_role("button", name="Install").click()
    expect(codex.get_by_role("status")).to_contain_text("Install failed — EXIT_1")
    expect(codex.get_by_role("log", name="Install log")).to_contain_text("npm ERR! code E404")
    shot(page, "install")


def test_connect_check_and_disconnect_never_show_the_key(
    host_env, clawboo_host_factory, page, shot
):
    with FakeProvider() as provider:
        provider.respond("GET", "/models", 200, {"data": []})
        host = clawboo_host_factory(env=dict(host_env, OPENROUTER_BASE_URL=provider.url))
        page.goto(host.url + "/")
        native = card(page, "clawboo-native")
        expect(native.locator('[data-field="connectionState"]')).to_contain_text("needs a key")
        native.get_by_label("Provider").select_option("openrouter")
        key = native.get_by_label("API key")

        key.fill(KEY)
        native.get_by_role("button", name="Check key").click()
        expect(native.get_by_role("status")).to_contain_text("The openrouter key works")
        assert provider.requests[-1].headers["authorization"] == f"Bearer {KEY}"
        expect(key).to_have_value("")

        key.fill(KEY)
        key.press("Enter")  # the form submits from the keyboard
        expect(native.get_by_role("status")).to_contain_text("Connected — ready")
        expect(native.locator('[data-field="connectionState"]')).to_contain_text("ready")
        expect(native.get_by_label("API key")).to_have_value("")
        assert KEY not in page.content()
        shot(page, "connected")

        native.get_by_role("button", name="Disconnect").click()
        expect(native.get_by_role("status")).to_contain_text("Disconnected")
        expect(native.locator('[data-field="connectionState"]')).to_contain_text("needs a key")
        assert KEY not in page.content()
        values = page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value)")
        assert KEY not in " ".join(values)

    # Codex signs in with its own CLI: the panel shows the command the host returns.
    codex = card(page, "codex")
    codex.get_by_role("button", name="Sign in…").click()
    expect(codex.locator("code.login-command")).to_have_text("codex login")


def test_create_a_task_run_it_on_the_mock_and_see_it_land(host, page, shot, git_repo):
    page.goto(host.url + "/#board")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    budget = page.locator("#budget-form")
    budget.get_by_label("Scope", exact=True).select_option("agent")
    budget.get_by_label("Scope id").fill("clawboo-mock")
    budget.get_by_label("Limit (USD)").fill("5")
    budget.get_by_label("Mode").select_option("cap")
    budget.get_by_role("button", name="Set budget").click()
    budgets = page.locator("#budgets tbody tr")
    expect(budgets).to_have_count(1)
    expect(budgets).to_contain_text("$5.00")
    expect(budgets).to_contain_text("cap")
    page.get_by_label("Title", exact=True).fill("Say hello")
    page.get_by_label("Description", exact=True).fill(
        "!write hello.txt hi\n!cost 0.0125 1200 340\n!ok wrote hello.txt"
    )
    page.get_by_role("button", name="Create task").click()
    todo = page.locator('section.column[data-status="todo"]')
    expect(todo.get_by_role("button", name="Say hello")).to_be_visible()
    detail = page.locator("#task-detail")
    expect(detail).to_contain_text("Not run yet.")
    shot(page, "board-new-task")

    detail.get_by_role("button", name="Run this task…").click()
    expect(page.locator("#view-run")).to_be_visible()
    page.get_by_label("Runtime", exact=True).select_option("clawboo-mock")
    page.get_by_role("button", name="Run", exact=True).click()  # a code run, no repository
    expect(page.locator("#run-state")).to_contain_text(
        "Refused — 422: workspace_unavailable: a code run needs a repository path"
    )
    page.get_by_label("Repository path").fill(str(git_repo))
    page.get_by_role("button", name="Run", exact=True).click()
    events = page.get_by_role("log", name="Run events")
    expect(events).to_contain_text("tool call: write_file")
    expect(events).to_contain_text("cost: $0.0125 · 1200 in / 340 out tokens")
    expect(page.locator("#run-state")).to_contain_text("Finished: success — task is now in_review")
    expect(events.locator('li[data-type="result"]')).to_contain_text("wrote hello.txt")
    shot(page, "run-finished")
    shot(page, "docs-run", full_page=False)

    open_view(page, "Board")
    review = page.locator('section.column[data-status="in_review"]')
    expect(review.get_by_role("button", name="Say hello")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    expect(budgets.locator("td").nth(3)).to_have_text("$0.0125")  # spent by the run
    review.get_by_role("button", name="Say hello").click()
    task_id = detail.locator("code").first.inner_text()
    expect(detail).to_contain_text(f"clawboo/task-{task_id}")
    executions = detail.locator("table.executions tbody tr")
    expect(executions).to_have_count(2)  # the refused attempt is on record too
    expect(executions.locator("td.exec-status")).to_have_text(["failed", "succeeded"])
    execution = executions.nth(1)
    expect(execution).to_contain_text("$0.0125")
    expect(execution).to_contain_text("1200 in / 340 out")
    expect(detail.locator("ol.comments")).to_contain_text("wrote hello.txt")

    # edit and comment from the detail panel
    detail.get_by_label("Add a comment").fill("Looks good to me.")
    detail.get_by_role("button", name="Comment").click()
    expect(detail.locator("ol.comments")).to_contain_text("Looks good to me.")
    detail.get_by_label("Title").fill("Say hello (reviewed)")
    detail.get_by_role("button", name="Save").click()
    expect(review.get_by_role("button", name="Say hello (reviewed)")).to_be_visible()
    with host.client() as api:
        board = task_detail(api, task_id)
    assert board["task"]["title"] == "Say hello (reviewed)"
    assert [c["body"] for c in board["comments"]][-1] == "Looks good to me."
    shot(page, "board-task-detail")

    page.set_viewport_size(NARROW)
    assert no_horizontal_scroll(page)
    shot(page, "board-narrow")
    page.set_viewport_size(WIDE)


def test_a_run_verified_by_the_task_s_command(host, page, shot, git_repo):
    """A failed verification, the fix run, a passing one: all shown live, the task done."""
    page.goto(host.url + "/#board")
    page.get_by_label("Title", exact=True).fill("Add the feature")
    page.get_by_label("Description", exact=True).fill("!write src/feature.txt implemented")
    page.get_by_label("Verify command").fill(
        'test -f fixed.txt || { echo "!write fixed.txt repaired"; exit 1; }'
    )
    page.get_by_role("button", name="Create task").click()
    detail = page.locator("#task-detail")
    expect(detail.get_by_label("Verify command")).to_have_value(
        'test -f fixed.txt || { echo "!write fixed.txt repaired"; exit 1; }'
    )
    detail.get_by_role("button", name="Run this task…").click()
    page.get_by_label("Runtime", exact=True).select_option("clawboo-mock")
    page.get_by_label("Repository path").fill(str(git_repo))
    page.get_by_role("button", name="Run", exact=True).click()
    state = page.locator("#run-state")
    expect(state).to_contain_text("Finished: success — task is now done")
    events = page.get_by_role("log", name="Run events")
    expect(events.locator('li[data-type="verification"]')).to_have_count(4)
    expect(events).to_contain_text("verifying: attempt 1: test -f fixed.txt")
    expect(events).to_contain_text("✗ failed (exit 1)")
    expect(events).to_contain_text("✓ passed")
    expect(events.locator('li[data-type="result"]')).to_contain_text(
        "verification passed (2 attempts)"
    )
    shot(page, "run-verified")

    open_view(page, "Board")
    done = page.locator('section.column[data-status="done"]')
    done.get_by_role("button", name="Add the feature").click()
    expect(detail.locator("table.executions td.exec-status")).to_have_text(
        ["succeeded", "succeeded"]
    )
    expect(detail.locator("ol.comments")).to_contain_text("Verification passed (attempt 2)")

    # clearing the command from the edit form clears it on the task
    detail.get_by_label("Verify command").fill("")
    detail.get_by_role("button", name="Save").click()
    expect(page.locator("#flash")).to_have_text("Task saved.")
    task_id = detail.locator("code").first.inner_text()
    with host.client() as api:
        assert task_detail(api, task_id)["task"]["verifyCommand"] is None


def test_abort_a_hanging_run(host, page, shot):
    with host.client() as api:
        task = create_task(api, "Wait forever", "!hang")
    page.goto(host.url + "/#run")
    page.get_by_label("Task", exact=True).select_option(task["id"])
    page.get_by_label("Runtime", exact=True).select_option("clawboo-mock")
    page.get_by_label("Kind", exact=True).select_option("research")
    page.get_by_role("button", name="Run", exact=True).click()
    abort = page.get_by_role("button", name="Abort")
    expect(abort).to_be_enabled()
    expect(page.locator("#run-state")).to_contain_text("Running (execution")
    shot(page, "run-hanging")
    abort.click()
    expect(page.locator("#run-state")).to_contain_text("Finished: aborted — task is now todo")
    expect(abort).to_be_disabled()
    shot(page, "run-aborted")
    with host.client() as api:
        [execution] = task_detail(api, task["id"])["executions"]
    assert execution["status"] == "cancelled"
    open_view(page, "Board")
    todo = page.locator('section.column[data-status="todo"]')
    expect(todo.get_by_role("button", name="Wait forever")).to_be_visible()


def test_the_panel_behind_an_access_token(clawboo_host_factory, host_env, page, shot):
    host = clawboo_host_factory(env=dict(host_env, CLAWBOO_ACCESS_TOKEN=TOKEN))
    with host.client(headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        create_task(api, "Made through the API")
    assert httpx.get(host.url + "/api/runtimes").status_code == 401

    page.goto(host.url + "/")
    signin = page.locator("#signin")
    expect(signin).to_be_visible()
    shot(page, "signin")
    signin.get_by_label("Access token").fill(TOKEN)
    signin.get_by_role("button", name="Sign in").click()
    page.wait_for_url(host.url + "/")  # redirected: the token is out of the address bar
    expect(card(page, "clawboo-mock")).to_be_visible()
    expect(page.locator("#signin")).to_be_hidden()
    open_view(page, "Board")
    expect(page.get_by_role("button", name="Made through the API")).to_be_visible()
    assert TOKEN not in page.url and TOKEN not in page.content()
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "clawboo_access"] == [True]


@pytest.mark.parametrize("view", ["Board", "Run"])
def test_views_are_reachable_from_the_keyboard(host, page, view):
    page.goto(host.url + "/")
    expect(card(page, "clawboo-mock")).to_be_visible()
    link = page.get_by_role("link", name=view, exact=True)
    for _ in range(10):  # Tab from the top of the page until the link has focus
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(page.locator(f"#view-{view.lower()}")).to_be_visible()
    expect(link).to_have_attribute("aria-current", "page")


UNLABELLED = """
() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                  && !(el.tagName === "BUTTON" && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120))
"""


def test_every_control_has_a_name_and_every_view_fits_a_narrow_window(host, page, shot):
    with host.client() as api:
        task = create_task(api, "Look at me")
    page.goto(host.url + "/#board")
    page.get_by_role("button", name="Look at me").click()
    expect(page.locator("#task-detail")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    page.set_viewport_size(NARROW)
    for view in ("Runtimes", "Board", "Run"):
        open_view(page, view)
        assert no_horizontal_scroll(page), view
    page.get_by_label("Task", exact=True).select_option(task["id"])
    shot(page, "run-narrow")
