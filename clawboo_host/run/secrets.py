"""A run's secrets, worked out once per execution: the keys its runtime is granted, the key
names every registered runtime declares (withheld from this run's children unless granted),
and every value those names resolve to now (redacted from all the run writes and logs)."""

from __future__ import annotations

from dataclasses import dataclass

from ..keys import KeyResolver
from ..registry import RuntimeRegistry


@dataclass(frozen=True)
class RunSecrets:
    #: ``{name: value}`` the runtime's children get
    grants: dict[str, str]
    #: every registered runtime's key names: a third-party ``ACME_API_KEY`` as much as a
    #: built-in ``OPENAI_API_KEY``
    names: frozenset[str]
    #: the values to redact: the grants and whatever any of ``names`` resolves to
    values: tuple[str, ...]


def every_runtime_key_name(registry: RuntimeRegistry, env) -> frozenset[str]:
    """The key names every registered runtime declares (descriptor slots and key-names
    hooks, through the plugin boundary). Synchronous: call it off the event loop."""
    return frozenset(name for rid in registry.ids() for name in registry.key_names(rid, env))


def run_secrets(registry: RuntimeRegistry, keys: KeyResolver, runtime_id: str, env) -> RunSecrets:
    """Work out one execution's secrets (synchronous: vault reads and plugin hooks)."""
    grants = keys.grants_for_runtime(runtime_id, registry.key_names(runtime_id, env))
    names = every_runtime_key_name(registry, env)
    values = dict.fromkeys(grants.values())
    values.update(dict.fromkeys(keys.resolve_many(sorted(names - grants.keys())).values()))
    return RunSecrets(grants=grants, names=names, values=tuple(values))
