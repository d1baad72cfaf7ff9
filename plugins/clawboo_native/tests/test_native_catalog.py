import clawboo_native
from clawboo_native.providers import PROVIDERS

from clawboo_host.plugin_api import ConnectRequest, Health, StatusProbe


def probe(keys=(), env=None):
    return StatusProbe("clawboo-native", None, env or {}, has_key=lambda name: name in keys)


def test_health_needs_a_key_or_ollama():
    assert clawboo_native.clawboo_runtime_health(probe(["OPENROUTER_API_KEY"])) == Health(ok=True)
    assert clawboo_native.clawboo_runtime_health(
        probe(env={"OLLAMA_BASE_URL": "http://x"})
    ) == Health(ok=True)
    assert clawboo_native.clawboo_runtime_health(probe()).ok is False


def test_connect_routing():
    plan = clawboo_native.clawboo_runtime_connect
    assert plan(ConnectRequest("", True)).slot == "ANTHROPIC_API_KEY"
    assert plan(ConnectRequest("google", True)).slot == "GEMINI_API_KEY"
    assert plan(ConnectRequest("ollama", False)).slot is None
    assert plan(ConnectRequest("OpenAI", True)).error == "unknown provider 'OpenAI'"


def test_descriptor_and_probe_urls():
    d = clawboo_native.DESCRIPTOR
    assert d.built_in and d.env_var == "ANTHROPIC_API_KEY" and len(d.env_vars) == 10
    assert d.alt_env_vars[0] == "OPENAI_API_KEY" and d.alt_env_vars[-1] == "MOONSHOT_API_KEY"
    assert PROVIDERS["anthropic"].models_url({}) == "https://api.anthropic.com/v1/models"
    assert PROVIDERS["openrouter"].models_url({}) == "https://openrouter.ai/api/v1/models"
    assert (
        PROVIDERS["ollama"].models_url({"OLLAMA_BASE_URL": "http://h:1/v1/"})
        == "http://h:1/api/tags"
    )
    assert PROVIDERS["groq"].models_url({}) == "https://api.groq.com/openai/v1/models"


def test_the_panel_offers_exactly_these_providers_in_this_order():
    """The browser panel's provider choice is a copy of KNOWN_PROVIDERS: keep them equal."""
    import re
    from importlib import resources

    from clawboo_native.providers import KNOWN_PROVIDERS

    source = resources.files("clawboo_host").joinpath("panel", "runtimes.js").read_text()
    listed = re.search(r"NATIVE_PROVIDERS = \[(.*?)\]", source, re.S).group(1)
    assert tuple(re.findall(r'"([a-z]+)"', listed)) == KNOWN_PROVIDERS
