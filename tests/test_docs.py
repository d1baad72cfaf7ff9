"""Docs guard rails: every hook is documented, every hook has a docstring with an example."""

from pathlib import Path

from clawboo_host.plugin_api import HOOK_NAMES, hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hook_has_a_section_in_the_plugin_guide():
    guide = (DOCS / "plugins.md").read_text()
    for name in HOOK_NAMES:
        assert f"### {name}(" in guide, name


def test_every_hookspec_documents_an_example():
    for name in HOOK_NAMES:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Example::" in doc and "@hookimpl" in doc, name


def _code_block_after(markdown: str, heading: str) -> str:
    section = markdown[markdown.index(heading) :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def test_the_minimal_plugin_in_the_guide_runs_a_task(
    clawboo_host_factory, fake_executables, git_repo
):
    """The guide's example is real code: load it as a plugin and drive a task through it."""
    import types

    from clawboo_host.testing.helpers import connect, create_task, run_task

    source = _code_block_after((DOCS / "plugins.md").read_text(), "## A minimal plugin")
    module = types.ModuleType("acme_agent_from_docs")
    exec(compile(source, "docs/plugins.md", "exec"), module.__dict__)
    fake_executables.add("acme", "import sys\nprint('working on it')\nprint('all done')\n")
    server = clawboo_host_factory(plugins=[("acme-agent", module)])
    with server.client() as client:
        assert connect(client, "acme-agent", "acme-key-000001")["connectionState"] == "ready"
        task = create_task(client, "Try the example", "do it")
        body = run_task(client, "acme-agent", task["id"], repoPath=str(git_repo))
    assert (body["doneReason"], body["summary"], body["status"]) == ("success", "all done", "done")
    assert body["usage"] == {"inputTokens": 1200, "outputTokens": 300}
