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
