"""The small helpers plugins share: RunContext.scrub, text.tail, settings.positive_float."""

import anyio
import pytest

from clawboo_host.plugin_api import AbortSignal, RunContext
from clawboo_host.plugin_api.settings import positive_float
from clawboo_host.plugin_api.text import tail


def test_scrub_removes_the_run_token_and_granted_keys(tmp_path):
    ctx = RunContext(
        run_id="r",
        task_id="t",
        agent_id="a",
        prompt="p",
        cwd=None,
        home_dir=None,
        scratch_dir=tmp_path,
        abort=AbortSignal(),
        mcp_token="tok-123456",
        env={"OPENAI_API_KEY": "key-abcdef", "PATH": "/usr/bin", "HOME": "/home/x"},
    )
    text = "auth tok-123456 with key-abcdef on /usr/bin"
    assert ctx.scrub(text) == "auth [REDACTED] with [REDACTED] on /usr/bin"


def test_tail_keeps_the_end():
    assert tail("  short  ") == "short"
    assert tail("abcdefghij", 5) == "…ghij"


def test_positive_float_falls_back_on_bad_values():
    env = {"A": "2.5", "B": "0", "C": "-1", "D": "nan", "E": "x"}
    assert positive_float(env, "A", 9) == 2.5
    assert [positive_float(env, k, 9) for k in "BCDEF"] == [9, 9, 9, 9, 9]


@pytest.mark.anyio
async def test_an_abort_cancels_what_runs_in_its_cancel_scope():
    abort = AbortSignal()
    with abort.cancel_scope() as scope:
        pass
    assert not scope.cancelled_caught

    async def abort_soon() -> None:
        await anyio.sleep(0.05)
        abort.set("client gone")

    async with anyio.create_task_group() as tg:
        tg.start_soon(abort_soon)
        with abort.cancel_scope() as scope:
            await anyio.sleep(30)
    assert scope.cancelled_caught and abort.reason == "client gone"
    with abort.cancel_scope() as late:  # already set: cancelled at its first await
        await anyio.sleep(30)
    assert late.cancelled_caught
    assert abort._scopes == set()  # scopes that ended are forgotten
