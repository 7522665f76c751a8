"""The plugin manager: built once per app, kept in ``app.extensions["plugins"]``.

Plugins come from three places, in this order: the built-in ones (named here
as dotted strings only, so the core never imports a plugin), the ``PLUGINS``
setting (dotted module names), and the ``evershop.plugins`` entry point group
of installed packages (all of them, or exactly those ``PLUGINS_ONLY`` names).
``PLUGINS_BLOCKED`` names plugins not to load.

Hooks are always called through pluggy (``pm.hook.<name>(...)``), so
``tryfirst``/``trylast``, wrappers, ``firstresult`` and tracing hold for every
plugin. Failures are handled in one place, :meth:`PluginManager.register`,
which guards each implementation as it is registered:

* in an after-hook (``*_after_*``) or a read extension (``*_extend_read``), an
  exception is logged with the plugin's name and the call goes on without it,
  on a database transaction the failure did not spoil (a query of a table the
  plugin's migrations have not made yet fails that query alone);
* a contribution hook's (``register_*``) answer is wrapped in
  :class:`Attributed`, naming the plugin (read them with :func:`contributions`
  or :func:`collect`);
* anywhere else, an :class:`~app.errors.AppError` (a veto) passes through as it
  is, and any other exception is logged with the plugin's name and re-raised.

The specs of the core's own hooks are in :mod:`app.hookspecs`; each plugin adds
the specs of its domain through ``register_hookspecs`` when it is registered.
``PLUGINS_TRACE=true`` logs every hook call.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy
import sqlalchemy as sa
from flask import current_app, has_app_context

from app.config import ConfigError
from app.db import db, is_disconnect
from app.errors import AppError

log = logging.getLogger(__name__)

PROJECT = "evershop"
ENTRY_POINT_GROUP = "evershop.plugins"

# Built-in plugins, by name: ordinary plugins, loaded first.
BUILTIN_PLUGINS = {
    "auth": "app.auth.plugin",
    "customer": "plugins.customer.plugin",
    "address": "plugins.address.plugin",
    "password": "plugins.password.plugin",
    "webhook": "plugins.webhook.plugin",
    "verification": "plugins.verification.plugin",
    "privacy": "plugins.privacy.plugin",
    "timeline": "plugins.timeline.plugin",
    "group": "plugins.group.plugin",
    "session": "plugins.session.plugin",
}

hookimpl = pluggy.HookimplMarker(PROJECT)
hookspec = pluggy.HookspecMarker(PROJECT)


@dataclass
class HookContext:
    """Who is acting, handed to every lifecycle hook as ``context``.

    ``actor_type`` is ``"admin"``, ``"customer"`` or ``None`` (anonymous or the
    system); ``actor`` is the account as the API shows it (no password hash),
    or None. ``extra`` is free for plugins to pass data from a before- to an
    after-hook.
    """

    actor_type: str | None = None
    actor: dict | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginInfo:
    """What ``flask plugins`` shows about a loaded plugin."""

    name: str
    source: str  # "built-in", "PLUGINS" or "entry point"
    module: str
    requires: tuple[str, ...] = ()
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Attributed:
    """What one plugin returned from a contribution hook (``register_*``),
    with the plugin's name: the core needs to know the source of settings,
    migrations, templates and fields."""

    plugin: str
    value: Any


def _attributed(hook_name: str) -> bool:
    return hook_name.startswith("register_")


@dataclass(frozen=True)
class Subscription:
    """One event handler of one plugin (what ``subscribe`` returns, named)."""

    name: str  # the plugin's name, with "#n" for its n-th handler of an event
    handler: Any


def _isolated(hook_name: str) -> bool:
    return "_after_" in hook_name or hook_name.endswith("_extend_read")


@contextlib.contextmanager
def _database_kept_usable():
    """Leave the request's database transaction usable whatever an isolated
    hook's query does: after one failed statement PostgreSQL refuses every
    other of the transaction (a plugin whose table is not migrated yet would
    otherwise fail the hooks after it, and the request).

    Inside a write (:func:`app.transactions.transaction`) the hook runs in a
    savepoint, rolled back if it fails. Elsewhere (reads, after-hooks) a
    failed statement ends the transaction, which held no writes: the next
    query begins another.
    """
    if not has_app_context() or "sqlalchemy" not in current_app.extensions:
        yield
        return
    session = db.session()
    if session.info.get("writing"):
        with session.begin_nested():
            yield
        return
    try:
        yield
    except sa.exc.DBAPIError:
        session.rollback()
        raise


def _guard(function, plugin_name: str, hook_name: str):
    """``function`` with the failure policy of its hook (see the module's docstring)."""
    if hook_name == "subscribe":

        @functools.wraps(function)
        def named(*args):
            mapping = function(*args) or {}
            named_handlers = {}
            for event_name, handlers in mapping.items():
                if not isinstance(handlers, list | tuple):
                    handlers = [handlers]
                named_handlers[event_name] = [
                    Subscription(plugin_name if i == 0 else f"{plugin_name}#{i}", handler)
                    for i, handler in enumerate(handlers)
                ]
            return named_handlers

        return named

    if _attributed(hook_name):

        @functools.wraps(function)
        def attributed(*args):
            try:
                value = function(*args)
            except Exception:
                log.exception("plugin %s failed in %s", plugin_name, hook_name)
                raise
            return None if value is None else Attributed(plugin_name, value)

        return attributed

    if _isolated(hook_name):

        @functools.wraps(function)
        def isolated(*args):
            try:
                with _database_kept_usable():
                    return function(*args)
            except Exception:
                log.exception("plugin %s failed in %s", plugin_name, hook_name)
                return None

        return isolated

    @functools.wraps(function)
    def logged(*args):
        try:
            return function(*args)
        except AppError:
            raise
        except Exception as error:
            if not is_disconnect(error):  # an outage is logged once, where it is answered
                log.exception("plugin %s failed in %s", plugin_name, hook_name)
            raise

    return logged


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, guarding each implementation as it is registered and
    remembering where each plugin came from."""

    def __init__(self):
        super().__init__(PROJECT)
        self.info: dict[str, PluginInfo] = {}

    def register(self, plugin, name: str | None = None) -> str | None:
        name = super().register(plugin, name)
        if name is None:  # blocked
            return None
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                    impl.function = _guard(impl.function, name, caller.name)
        return name

    def unregister(self, plugin=None, name: str | None = None):
        found = super().unregister(plugin, name)
        self.info.pop(name or self.get_name(found) or "", None)
        return found

    def add(self, name: str, module: str, source: str, **info) -> None:
        """Import ``module`` and register it as the plugin ``name``."""
        plugin = importlib.import_module(module)
        requires = tuple(getattr(plugin, "REQUIRES", ()))
        if self.register(plugin, name=name) is not None:
            self.info[name] = PluginInfo(name, source, module, requires, **info)


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def build_plugin_manager(config: dict) -> PluginManager:
    """Specs, blocks, built-ins, the ``PLUGINS`` setting, entry points, then
    checks: a blocked name that matches nothing, a plugin whose requirement is
    missing or blocked, a misspelt hook — each stops start-up with one line."""
    from app import hookspecs

    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    # Each plugin's own specs, added as it registers (historic: later ones too).
    # (A historic call reaches a plugin inside register(), before its guard.)
    pm.hook.register_hookspecs.call_historic(
        result_callback=lambda answer: (
            answer and pm.add_hookspecs(answer.value if isinstance(answer, Attributed) else answer)
        )
    )
    if config.get("PLUGINS_TRACE"):
        pm.trace.root.setwriter(lambda message: log.info("hook %s", message.rstrip()))
        pm.enable_tracing()

    extra = {name: name for name in config.get("PLUGINS", [])}
    entry_points = {ep.name: ep for ep in _entry_points()}
    only = config.get("PLUGINS_ONLY")
    blocked = set(config.get("PLUGINS_BLOCKED", []))
    known = set(BUILTIN_PLUGINS) | set(extra) | set(entry_points)
    unknown = sorted(blocked - known - {m for m in BUILTIN_PLUGINS.values()})
    if unknown:
        raise ConfigError(
            f"PLUGINS_BLOCKED names {', '.join(unknown)}, which matches no plugin;"
            f" known plugins: {', '.join(sorted(known))}"
        )
    if only is not None:
        missing = sorted(set(only) - set(entry_points))
        if missing:
            raise ConfigError(
                f"PLUGINS_ONLY names {', '.join(missing)}, which no installed package provides"
            )
    # The built-ins may also be blocked by their module's dotted name.
    blocked |= {name for name, module in BUILTIN_PLUGINS.items() if module in blocked}
    for name in blocked:
        pm.set_blocked(name)

    for name, module in BUILTIN_PLUGINS.items():
        pm.add(name, module, "built-in")
    for name in extra:
        pm.add(name, name, "PLUGINS")
    if only is None:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    else:
        # Only these are loaded; the others' names stay free (not blocked), so
        # that a plugin registered later may bear one.
        for name in only:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        pm.info[name] = PluginInfo(
            name,
            "entry point",
            entry_points[name].value if name in entry_points else plugin.__name__,
            tuple(getattr(plugin, "REQUIRES", ())),
            dist.project_name,
            dist.version,
        )

    _check_requirements(pm, blocked)
    # A misspelt hook fails here, at start-up, not on the first request.
    pm.check_pending()
    return pm


def _check_requirements(pm: PluginManager, blocked: set[str]) -> None:
    for name, info in pm.info.items():
        for required in info.requires:
            if pm.has_plugin(required):
                continue
            if required in blocked:
                raise ConfigError(
                    f"plugin {name!r} requires plugin {required!r}, which PLUGINS_BLOCKED"
                    f" blocks: unblock {required!r} or block {name!r} too"
                )
            raise ConfigError(
                f"plugin {name!r} requires plugin {required!r}, which is not installed"
            )


def plugin_manager() -> PluginManager:
    return current_app.extensions["plugins"]


def hooks():
    """The hooks of the current app's plugins: ``hooks().customer_before_create(...)``."""
    return current_app.extensions["plugins"].hook


def contributions(pm: PluginManager, hook_name: str, **kwargs) -> dict[str, list]:
    """What each plugin returned from an attributed hook, as lists, by plugin name."""
    found: dict[str, list] = {}
    for answer in getattr(pm.hook, hook_name)(**kwargs):
        value = answer.value
        found.setdefault(answer.plugin, []).extend(
            value if isinstance(value, list | tuple) else [value]
        )
    return found


def collect(hook_name: str, **kwargs) -> list:
    """Call a contribution hook and flatten the lists the plugins return."""
    results = getattr(plugin_manager().hook, hook_name)(**kwargs)
    items: list = []
    for result in results:
        if isinstance(result, Attributed):
            result = result.value
        if result is None:
            continue
        if isinstance(result, list | tuple):
            items.extend(result)
        else:
            items.append(result)
    return items
