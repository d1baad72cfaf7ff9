"""Find runtime plugins through entry points and call their hooks by runtime id.

Discovery loads each entry point on its own, so one broken plugin is reported and skipped
while the rest keep working. Dispatch calls a hook on exactly the plugin registered under
the requested id; there is no "first plugin that answers" and no id check in the routes.

This is the plugin boundary: every hook call goes through :meth:`RuntimeRegistry.call`
(or :meth:`~RuntimeRegistry.call_sync`, :meth:`~RuntimeRegistry.stream`), which applies the
hook's time limit (a sync hook runs in a thread of its own and is abandoned, not awaited, past
its deadline), checks the returned type, and turns an exception, a timeout or a wrong value
into one :class:`PluginFailure`. Callers decide only what a failure means for them.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import anyio
import anyio.from_thread
import anyio.lowlevel
import pluggy

from .plugin_api import hookspecs
from .plugin_api.types import (
    AuthState,
    ConnectPlan,
    Health,
    HealthcheckResult,
    PluginContractError,
    RuntimeDescriptor,
    SeedPlan,
)
from .plugin_api.version import unsupported_plugin_api
from .reference_compat import PREFERRED_ORDER, RESERVED_IDS

log = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

ENTRY_POINT_GROUP = "clawboo.runtimes"
MOCK_RUNTIME_ID = "clawboo-mock"


class NotImplementedHook:
    """Returned by :meth:`RuntimeRegistry.call` when the plugin lacks the hook."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_IMPLEMENTED"


NOT_IMPLEMENTED = NotImplementedHook()


class PluginFailure(Exception):
    """A runtime plugin's hook raised, overran its time limit or returned the wrong type.

    ``reason`` says which, without the plugin's own exception text (that is logged, redacted,
    and never sent): ``timed out``, ``raised ValueError``, ``returned str, not Health``.
    """

    def __init__(self, runtime_id: str, hook: str, reason: str) -> None:
        super().__init__(f"runtime plugin '{runtime_id}' failed: {hook} {reason}")
        self.runtime_id = runtime_id
        self.hook = hook
        self.reason = reason

    @property
    def public_message(self) -> str:
        """What a client is told."""
        return f"runtime plugin '{self.runtime_id}' failed"


def _is_name_list(value: object) -> bool:
    return isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(item, str) for item in value
    )


@dataclass(frozen=True)
class HookPolicy:
    """How long one hook may take and what it must return."""

    limit_s: float
    returns: type | None = None
    check: Callable[[object], bool] | None = None
    expected: str = ""

    def accepts(self, value: object) -> bool:
        if self.returns is not None:
            return isinstance(value, self.returns)
        return self.check(value) if self.check is not None else True

    @property
    def expected_name(self) -> str:
        return self.returns.__name__ if self.returns is not None else self.expected


#: Every request/response hook's limit and result type (install and run are streams,
#: bounded by the installer's and the executor's own limits).
HOOK_POLICIES: dict[str, HookPolicy] = {
    "clawboo_runtime_health": HookPolicy(2.0, Health),
    "clawboo_runtime_auth_state": HookPolicy(8.0, AuthState),
    "clawboo_runtime_key_names": HookPolicy(2.0, check=_is_name_list, expected="a list of names"),
    "clawboo_runtime_connect": HookPolicy(10.0, ConnectPlan),
    "clawboo_runtime_healthcheck": HookPolicy(60.0, HealthcheckResult),
    "clawboo_seed_team": HookPolicy(10.0, SeedPlan),
}


class _Outcome:
    """Where a hook's thread leaves its result (or exception) for whoever still waits."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


def _start_in_thread(
    fn: Callable[[], object], name: str, notify: Callable[[], None] | None = None
) -> _Outcome:
    """Run ``fn`` in a daemon thread of its own: a hook that never returns keeps only that
    thread, never a request, a pooled worker or the process's exit. ``notify`` is called
    (from that thread) once it has finished."""
    outcome = _Outcome()

    def target() -> None:
        try:
            outcome.value = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter
            outcome.error = exc
        finally:
            outcome.done.set()
            if notify is not None:
                with contextlib.suppress(Exception):  # the waiter's loop may be gone
                    notify()

    threading.Thread(target=target, name=name, daemon=True).start()
    return outcome


async def _in_own_thread(fn: Callable[[], object], name: str) -> object:
    """Await ``fn`` run in its own thread; cancelling the wait abandons the thread."""
    finished = anyio.Event()
    token = anyio.lowlevel.current_token()
    outcome = _start_in_thread(
        fn, name, lambda: anyio.from_thread.run_sync(finished.set, token=token)
    )
    await finished.wait()
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


@dataclass(frozen=True)
class PluginRecord:
    """One discovered plugin, loaded or not: what ``clawboo-host plugins`` prints."""

    id: str
    distribution: str | None
    version: str | None
    status: str  # "ok" | "error"
    error: str | None = None
    hooks: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
        }


@dataclass
class RuntimeRegistry:
    """The loaded runtimes (id → descriptor) plus the plugin manager that holds their hooks."""

    pm: pluggy.PluginManager
    descriptors: dict[str, RuntimeDescriptor] = field(default_factory=dict)
    records: list[PluginRecord] = field(default_factory=list)

    # ------------------------------------------------------------------ lookups

    def ids(self) -> list[str]:
        def order(rid: str) -> tuple[int, int, str]:
            if rid == MOCK_RUNTIME_ID:
                return (2, 0, rid)
            if rid in PREFERRED_ORDER:
                return (0, PREFERRED_ORDER.index(rid), rid)
            return (1, 0, rid)

        return sorted(self.descriptors, key=order)

    def get(self, runtime_id: str) -> RuntimeDescriptor | None:
        """The descriptor for an id, or ``None`` (unknown, reserved, or wrong case)."""
        if runtime_id in RESERVED_IDS:
            return None
        return self.descriptors.get(runtime_id)

    def public_catalog(self) -> list[RuntimeDescriptor]:
        """``available[]``: every real runtime, never the fault-injection mock."""
        return [self.descriptors[i] for i in self.ids() if i != MOCK_RUNTIME_ID]

    def implements(self, runtime_id: str, hook_name: str) -> bool:
        return self._impl(runtime_id, hook_name) is not None

    def ids_implementing(self, hook_name: str) -> list[str]:
        return [rid for rid in self.ids() if self.implements(rid, hook_name)]

    # ------------------------------------------------------------------ dispatch

    def _impl(self, runtime_id: str, hook_name: str):
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            if impl.plugin_name == runtime_id:
                return impl
        return None

    def _args(self, impl, kwargs: Mapping[str, object]) -> dict:
        return {name: kwargs[name] for name in impl.argnames}

    def _failure(self, runtime_id: str, hook_name: str, exc: BaseException | None, reason: str):
        short = hook_name.removeprefix("clawboo_runtime_").removeprefix("clawboo_")
        failure = PluginFailure(runtime_id, short, reason)
        # The plugin's own text may carry a secret: the host's log filter redacts it.
        log.warning("%s", failure, exc_info=exc)
        return failure

    def _checked(self, runtime_id: str, hook_name: str, value: object) -> object:
        policy = HOOK_POLICIES.get(hook_name)
        if policy is not None and not policy.accepts(value):
            raise self._failure(
                runtime_id,
                hook_name,
                None,
                f"returned {type(value).__name__}, not {policy.expected_name}",
            )
        return value

    async def call(self, runtime_id: str, hook_name: str, **kwargs):
        """Call one plugin's hook within its time limit and check what it returns.

        A sync hook runs in a thread of its own, awaited until its deadline and abandoned
        after it. Returns :data:`NOT_IMPLEMENTED` when that plugin does not implement the
        hook; raises :class:`PluginFailure` for an exception, a timeout or a wrong value.
        """
        impl = self._impl(runtime_id, hook_name)
        if impl is None:
            return NOT_IMPLEMENTED
        args = self._args(impl, kwargs)
        policy = HOOK_POLICIES.get(hook_name)
        limit = policy.limit_s if policy is not None else None
        try:
            with anyio.fail_after(limit):
                if inspect.iscoroutinefunction(impl.function):
                    value = await impl.function(**args)
                else:
                    value = await _in_own_thread(
                        lambda: impl.function(**args), f"{runtime_id}:{hook_name}"
                    )
                    if inspect.isawaitable(value):
                        value = await value
        except TimeoutError as exc:
            raise self._failure(runtime_id, hook_name, exc, "timed out") from None
        except Exception as exc:
            raise self._failure(
                runtime_id, hook_name, exc, f"raised {type(exc).__name__}"
            ) from None
        return self._checked(runtime_id, hook_name, value)

    def call_sync(self, runtime_id: str, hook_name: str, **kwargs):
        """:meth:`call` for a synchronous caller (already off the event loop): a sync hook
        only, run in its own thread and abandoned past its limit."""
        impl = self._impl(runtime_id, hook_name)
        if impl is None:
            return NOT_IMPLEMENTED
        args = self._args(impl, kwargs)
        policy = HOOK_POLICIES.get(hook_name)
        if inspect.iscoroutinefunction(impl.function):
            raise self._failure(runtime_id, hook_name, None, "must be a plain function")
        outcome = _start_in_thread(lambda: impl.function(**args), f"{runtime_id}:{hook_name}")
        if not outcome.done.wait(policy.limit_s if policy is not None else None):
            raise self._failure(runtime_id, hook_name, None, "timed out")
        if outcome.error is not None:
            error = outcome.error
            raise self._failure(runtime_id, hook_name, error, f"raised {type(error).__name__}")
        return self._checked(runtime_id, hook_name, outcome.value)

    def key_names(self, runtime_id: str, env: Mapping[str, str]) -> tuple[str, ...]:
        """Every vault slot the runtime draws on now: its descriptor's, then the names its
        ``clawboo_runtime_key_names`` hook adds (a name that is not an env-var name, or a
        hook that fails, adds nothing). Synchronous: call it off the event loop."""
        names = list(self.descriptors[runtime_id].env_vars)
        try:
            extra = self.call_sync(runtime_id, "clawboo_runtime_key_names", env=env)
        except PluginFailure:
            extra = ()
        if extra is not NOT_IMPLEMENTED:
            names += [n for n in extra if _ENV_NAME.match(n)]
        return tuple(dict.fromkeys(names))

    def stream(self, runtime_id: str, hook_name: str, **kwargs):
        """Call a generator hook (install, run); returns its async iterator or ``None``.

        Raises :class:`PluginFailure` when the hook raises or returns no async iterator."""
        impl = self._impl(runtime_id, hook_name)
        if impl is None:
            return None
        try:
            events = impl.function(**self._args(impl, kwargs))
        except Exception as exc:
            raise self._failure(
                runtime_id, hook_name, exc, f"raised {type(exc).__name__}"
            ) from None
        if not hasattr(events, "__aiter__"):
            raise self._failure(
                runtime_id,
                hook_name,
                None,
                f"returned {type(events).__name__}, not an async generator",
            )
        return events


# ---------------------------------------------------------------------- building


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(c.name for c in callers))


def _register(
    registry: RuntimeRegistry,
    runtime_id: str,
    plugin: ModuleType | object,
    distribution: str | None,
    version: str | None,
) -> None:
    """Register one plugin object under ``runtime_id`` after validating it; record the outcome."""
    pm = registry.pm

    def fail(message: str) -> None:
        log.warning("runtime plugin %r (%s) skipped: %s", runtime_id, distribution, message)
        registry.records.append(PluginRecord(runtime_id, distribution, version, "error", message))

    if runtime_id in RESERVED_IDS:
        return fail(f"'{runtime_id}' is a reserved id and is never loaded")
    if runtime_id in registry.descriptors:
        return fail(f"duplicate runtime id '{runtime_id}'")
    if (refusal := unsupported_plugin_api(plugin)) is not None:
        return fail(refusal)
    try:
        pm.register(plugin, name=runtime_id)
    except Exception as exc:  # pluggy.PluginValidationError, ValueError
        return fail(f"invalid plugin: {exc}")
    try:
        unknown = [name for name in _hooks_of(pm, plugin) if name not in hookspecs.HOOK_NAMES]
        if unknown:
            raise PluginContractError(f"unknown hook(s): {', '.join(unknown)}")
        impl = registry._impl(runtime_id, "clawboo_runtime_descriptor")
        if impl is None:
            raise PluginContractError("missing required hook clawboo_runtime_descriptor")
        descriptor = impl.function()
        if not isinstance(descriptor, RuntimeDescriptor):
            raise PluginContractError("clawboo_runtime_descriptor must return a RuntimeDescriptor")
        descriptor.validate()
        if descriptor.id != runtime_id:
            raise PluginContractError(
                f"descriptor id '{descriptor.id}' does not match entry-point name '{runtime_id}'"
            )
    except Exception as exc:
        pm.unregister(name=runtime_id)
        return fail(str(exc))
    registry.descriptors[runtime_id] = descriptor
    registry.records.append(
        PluginRecord(runtime_id, distribution, version, "ok", None, _hooks_of(pm, plugin))
    )


def normalized_name(name: str) -> str:
    """PEP 503 name normalization: ``Dup_Dist`` and ``dup-dist`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def discover_entry_points(
    *, include_mock: bool = False
) -> list[tuple[metadata.EntryPoint, str | None, str | None]]:
    """Every ``clawboo.runtimes`` entry point with its distribution's name and version; the
    fault-injection runtime's only with ``include_mock``.

    Reads installed metadata only; nothing is imported. A distribution found twice on
    sys.path (e.g. user site and venv) is not two providers: ``entry_points()`` keeps the
    first copy, telling copies apart by their dist-info folder's name, so only the plugins'
    own METADATA files are parsed (parsing every installed one costs tens of ms at start).
    """
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if include_mock or ep.name != MOCK_RUNTIME_ID:
            dist = ep.dist
            name, version = (dist.metadata["Name"], dist.version) if dist else (None, None)
            found.append((ep, name, version))
    return found


def mock_enabled(env: Mapping[str, str]) -> bool:
    """``CLAWBOO_ENABLE_MOCK_RUNTIME=1`` (exactly ``1``) enables the fault-injection runtime."""
    return env.get("CLAWBOO_ENABLE_MOCK_RUNTIME") == "1"


def _load_and_register(
    registry: RuntimeRegistry, ep: metadata.EntryPoint, dist: str | None, version: str | None
) -> None:
    if ep.name in RESERVED_IDS:
        _register(registry, ep.name, None, dist, version)
        return
    try:
        plugin = ep.load()
    except Exception as exc:
        message = f"import failed: {type(exc).__name__}: {exc}"
        log.warning("runtime plugin %r (%s) skipped: %s", ep.name, dist, message)
        registry.records.append(PluginRecord(ep.name, dist, version, "error", message))
        return
    _register(registry, ep.name, plugin, dist, version)


def build_registry(
    *,
    env: Mapping[str, str],
    plugins: Iterable[tuple[str, object]] | None = None,
) -> RuntimeRegistry:
    """Load runtimes: from entry points by default, or exactly ``plugins`` (id, module) in tests.

    The fault-injection runtime ``clawboo-mock`` is an entry point like any other (the core
    distribution's), skipped unless :func:`mock_enabled`; with ``plugins`` it is added from
    that entry point when enabled and not given.
    """
    registry = RuntimeRegistry(new_plugin_manager())
    candidates = discover_entry_points(include_mock=mock_enabled(env))
    if plugins is not None:
        for runtime_id, plugin in plugins:
            _register(registry, runtime_id, plugin, None, None)
        candidates = [
            c
            for c in candidates
            if c[0].name == MOCK_RUNTIME_ID and MOCK_RUNTIME_ID not in registry.descriptors
        ]
    providers: dict[str, list[str]] = {}
    for ep, dist, _version in candidates:
        providers.setdefault(ep.name, []).append(dist or "?")
    for ep, dist, version in candidates:
        dists = providers[ep.name]
        if len(dists) > 1:
            message = (
                f"runtime id '{ep.name}' is provided by more than one distribution: "
                + ", ".join(sorted(dists))
            )
            log.error(message)
            registry.records.append(PluginRecord(ep.name, dist, version, "error", message))
            continue
        _load_and_register(registry, ep, dist, version)
    return registry
