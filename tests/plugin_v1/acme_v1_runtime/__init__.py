# Verbatim: the minimal plugin of docs/plugins.md at plugin API version 1 (commit 50d0f63).
# No CLAWBOO_PLUGIN_API, spawns the bare CLI name, v1 hook signatures. Do not modernize.
from clawboo_host.plugin_api import (
    Capabilities, Done, InstallSpec, RuntimeDescriptor, TextDelta, CostEvent, hookimpl,
)
from clawboo_host.plugin_api.process import spawn


@hookimpl
def clawboo_runtime_descriptor():
    return RuntimeDescriptor(
        id="acme-agent",
        name="Acme Agent",
        cli_binary="acme",
        install=InstallSpec(method="npm", package="acme-agent@1"),
        auth_kind="api-key",
        env_var="ACME_API_KEY",
        docs_url="https://acme.example/docs",
        capabilities=Capabilities(streaming=True, mcp=False, worktrees=True,
                                  resume=False, tool_approval=False, models=("acme-1",)),
    )


@hookimpl
async def clawboo_runtime_run(ctx):
    async with spawn(["acme", "--print", ctx.prompt], cwd=ctx.cwd, env=ctx.env,
                     abort=ctx.abort) as proc:
        async for line in proc.stdout_lines():
            yield TextDelta(line + "\n")
        code = await proc.wait()
    if proc.aborted:
        yield Done("aborted")
    elif code == 0:
        yield CostEvent(input_tokens=1200, output_tokens=300, model="acme-1")
        yield Done("success", summary=proc.last_stdout_line)
    else:
        yield Done("error", summary=proc.stderr_text[-500:] or f"acme exited {code}")
