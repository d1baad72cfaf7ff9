"""Plugin discovery through real entry points (fake distributions on sys.path) and dispatch."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from clawboo_host.registry import MOCK_RUNTIME_ID, build_registry, discover_entry_points

GOOD_PLUGIN = """
from clawboo_host.plugin_api import Capabilities, RuntimeDescriptor, hookimpl

@hookimpl
def clawboo_runtime_descriptor():
    return RuntimeDescriptor(
        id={id!r}, name="Test Runtime", auth_kind="none", docs_url="https://example.invalid",
        capabilities=Capabilities(streaming=True, mcp=False, worktrees=False, resume=False,
                                  tool_approval=False),
    )
"""


def make_dist(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]):
    """Write a minimal installed distribution (dist-info + modules) into ``site``."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[clawboo.runtimes]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def record(registry, rid):
    matches = [r for r in registry.records if r.id == rid]
    assert matches, [r.id for r in registry.records]
    return matches[0]


def test_a_good_plugin_loads_beside_a_broken_one(site):
    make_dist(
        site, "good-rt", {"good-rt": "good_rt"}, {"good_rt": GOOD_PLUGIN.format(id="good-rt")}
    )
    make_dist(
        site, "broken-rt", {"broken-rt": "broken_rt"}, {"broken_rt": "raise RuntimeError('boom')"}
    )
    registry = build_registry(env={})
    assert registry.get("good-rt") is not None
    assert record(registry, "good-rt").status == "ok"
    assert record(registry, "good-rt").distribution == "good-rt"
    assert "clawboo_runtime_descriptor" in record(registry, "good-rt").hooks
    broken = record(registry, "broken-rt")
    assert broken.status == "error" and "boom" in broken.error
    assert registry.get("broken-rt") is None


def test_an_id_that_differs_from_the_entry_point_name_is_skipped(site):
    make_dist(site, "liar", {"liar-rt": "liar_rt"}, {"liar_rt": GOOD_PLUGIN.format(id="other-rt")})
    registry = build_registry(env={})
    assert registry.get("liar-rt") is None and registry.get("other-rt") is None
    assert "does not match" in record(registry, "liar-rt").error


def test_two_distributions_with_one_id_is_an_error_naming_both(site):
    make_dist(
        site, "first-dist", {"twin-rt": "twin_a"}, {"twin_a": GOOD_PLUGIN.format(id="twin-rt")}
    )
    make_dist(
        site, "second-dist", {"twin-rt": "twin_b"}, {"twin_b": GOOD_PLUGIN.format(id="twin-rt")}
    )
    registry = build_registry(env={})
    assert registry.get("twin-rt") is None
    errors = [r.error for r in registry.records if r.id == "twin-rt"]
    assert errors and all("first-dist" in e and "second-dist" in e for e in errors)


def test_one_distribution_found_twice_on_sys_path_is_not_a_duplicate(site, tmp_path, monkeypatch):
    """Like ``importlib.metadata.entry_points()``, the first copy on sys.path wins: a stale
    second copy of the same distribution (a user-site install beside the venv's, say) must
    not make the runtime vanish as a "duplicate"."""
    make_dist(site, "dup-dist", {"dup-rt": "dup_rt"}, {"dup_rt": GOOD_PLUGIN.format(id="dup-rt")})
    shadow = tmp_path / "shadow"
    make_dist(shadow, "Dup_Dist", {"dup-rt": "dup_rt"}, {})  # same name, normalized
    monkeypatch.setattr(sys, "path", [*sys.path, str(shadow)])
    registry = build_registry(env={})
    assert registry.get("dup-rt") is not None
    assert [(r.status, r.distribution) for r in registry.records if r.id == "dup-rt"] == [
        ("ok", "dup-dist")
    ]


def test_discovery_parses_only_the_runtime_distributions_metadata(site, monkeypatch):
    """Parsing every installed distribution's METADATA cost tens of ms of each start-up."""
    make_dist(
        site, "good-rt", {"good-rt": "good_rt"}, {"good_rt": GOOD_PLUGIN.format(id="good-rt")}
    )
    make_dist(site, "bystander", {}, {})  # installed, provides no runtime
    parsed: list[str] = []
    read_text = metadata.PathDistribution.read_text

    def recording_read_text(self, filename):
        if filename in ("METADATA", "PKG-INFO"):
            parsed.append(str(self._path))
        return read_text(self, filename)

    monkeypatch.setattr(metadata.PathDistribution, "read_text", recording_read_text)
    found = {ep.name: name for ep, name, _ in discover_entry_points()}
    assert found["good-rt"] == "good-rt"
    assert any("good_rt-1.0.dist-info" in p for p in parsed)
    assert not any("bystander" in p for p in parsed), parsed


def test_openclaw_is_reserved_and_never_imported(site):
    make_dist(site, "claw", {"openclaw": "claw_mod"}, {"claw_mod": "raise SystemExit('imported!')"})
    registry = build_registry(env={})
    assert registry.get("openclaw") is None
    assert "reserved" in record(registry, "openclaw").error


def test_a_misspelled_hook_or_bad_descriptor_is_reported(site):
    make_dist(
        site,
        "typo",
        {"typo-rt": "typo_rt"},
        {
            "typo_rt": GOOD_PLUGIN.format(id="typo-rt")
            + "\n@hookimpl\ndef clawboo_runtime_rnu(ctx):\n    pass\n"
        },
    )
    make_dist(
        site,
        "wrongtype",
        {"wrong-rt": "wrong_rt"},
        {
            "wrong_rt": "from clawboo_host.plugin_api import hookimpl\n@hookimpl\ndef clawboo_runtime_descriptor():\n    return {'id': 'wrong-rt'}\n"
        },
    )
    registry = build_registry(env={})
    assert "clawboo_runtime_rnu" in record(registry, "typo-rt").error
    assert "RuntimeDescriptor" in record(registry, "wrong-rt").error
    assert registry.get("typo-rt") is None and registry.get("wrong-rt") is None


def test_an_unpinned_install_package_is_refused(site):
    source = GOOD_PLUGIN.format(id="loose-rt").replace(
        'auth_kind="none"',
        'auth_kind="none", cli_binary="loose", install=__import__("clawboo_host.plugin_api", '
        'fromlist=["InstallSpec"]).InstallSpec(method="npm", package="loose-cli")',
    )
    make_dist(site, "loose", {"loose-rt": "loose_rt"}, {"loose_rt": source})
    registry = build_registry(env={})
    assert "not version-pinned" in record(registry, "loose-rt").error


def test_a_plugin_for_another_plugin_api_is_refused_and_the_rest_load(site):
    from clawboo_host.plugin_api import PLUGIN_API_VERSION

    make_dist(
        site,
        "future-rt",
        {"future-rt": "future_rt"},
        {"future_rt": "CLAWBOO_PLUGIN_API = 99\n" + GOOD_PLUGIN.format(id="future-rt")},
    )
    make_dist(
        site,
        "current-rt",
        {"current-rt": "current_rt"},
        {
            "current_rt": f"CLAWBOO_PLUGIN_API = {PLUGIN_API_VERSION}\n"
            + GOOD_PLUGIN.format(id="current-rt")
        },
    )
    make_dist(
        site,
        "odd-rt",
        {"odd-rt": "odd_rt"},
        {"odd_rt": "CLAWBOO_PLUGIN_API = '2'\n" + GOOD_PLUGIN.format(id="odd-rt")},
    )
    registry = build_registry(env={})
    refused = record(registry, "future-rt")
    assert refused.status == "error"
    assert "plugin API 99" in refused.error
    assert f"supports plugin API 1, {PLUGIN_API_VERSION}" in refused.error
    assert registry.get("future-rt") is None
    assert not registry.implements("future-rt", "clawboo_runtime_descriptor")
    assert "whole number" in record(registry, "odd-rt").error
    assert record(registry, "current-rt").status == "ok"
    assert registry.get("current-rt") is not None
    assert registry.get("claude-code") is not None  # the built-ins are unaffected


@pytest.mark.parametrize(
    "value,enabled", [("1", True), ("true", False), ("yes", False), ("0", False), ("", False)]
)
def test_the_mock_runtime_needs_exactly_1(value, enabled):
    registry = build_registry(env={"CLAWBOO_ENABLE_MOCK_RUNTIME": value}, plugins=[])
    assert (registry.get(MOCK_RUNTIME_ID) is not None) is enabled
    assert MOCK_RUNTIME_ID not in [d.id for d in registry.public_catalog()]


def test_the_mock_runtime_is_an_ordinary_entry_point_of_the_core():
    from clawboo_host.registry import discover_entry_points

    assert MOCK_RUNTIME_ID not in [ep.name for ep, _, _ in discover_entry_points()]
    found = discover_entry_points(include_mock=True)
    [(ep, dist, _)] = [c for c in found if c[0].name == MOCK_RUNTIME_ID]
    assert (ep.value, dist) == ("clawboo_host.testing.mock_runtime", "clawboo-host-core")
    off = build_registry(env={})
    assert MOCK_RUNTIME_ID not in off.descriptors
    assert MOCK_RUNTIME_ID not in [r.id for r in off.records]  # disabled: not even listed
    on = build_registry(env={"CLAWBOO_ENABLE_MOCK_RUNTIME": "1"})
    [record] = [r for r in on.records if r.id == MOCK_RUNTIME_ID]
    assert (record.status, record.distribution) == ("ok", "clawboo-host-core")


def test_builtins_come_first_in_reference_order_and_the_mock_last():
    registry = build_registry(env={"CLAWBOO_ENABLE_MOCK_RUNTIME": "1"})
    ids = registry.ids()
    assert ids[:4] == ["claude-code", "codex", "hermes", "clawboo-native"]
    assert ids[-1] == MOCK_RUNTIME_ID


@pytest.mark.anyio
async def test_dispatch_reaches_only_the_named_plugin():
    from clawboo_host.plugin_api import ConnectRequest

    registry = build_registry(env={})
    request = ConnectRequest(provider="groq", has_api_key=True)
    native = await registry.call("clawboo-native", "clawboo_runtime_connect", request=request)
    assert native.slot == "GROQ_API_KEY"
    # claude-code has no connect hook: dispatch must not fall through to native's.
    other = await registry.call("claude-code", "clawboo_runtime_connect", request=request)
    assert not other


@pytest.fixture
def anyio_backend():
    return "asyncio"
