"""The plugin manager: built once per app, kept in ``app.extensions["plugins"]``.

Built-in plugins are named here as dotted strings only, so the core never
imports a plugin; third-party plugins come from the ``evershop.plugins`` entry
point group and from the ``PLUGINS`` setting.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import current_app

from app import hookspecs
from app.errors import AppError

log = logging.getLogger(__name__)

PROJECT = "evershop"
ENTRY_POINT_GROUP = "evershop.plugins"

BUILTIN_PLUGINS = (
    "app.auth.plugin",
    "plugins.customer.plugin",
    "plugins.address.plugin",
    "plugins.password.plugin",
)

hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass
class HookContext:
    """Who is acting, handed to every lifecycle hook as ``context``.

    ``actor_type`` is ``"admin"``, ``"customer"`` or ``None`` (anonymous);
    ``actor`` is the account as the API shows it (no password hash), or None.
    ``extra`` is free for plugins to pass data from a before- to an after-hook.
    """

    actor_type: str | None = None
    actor: dict | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_plugin_manager(plugin_names: list[str], blocked: list[str] = ()) -> pluggy.PluginManager:
    """Specs, blocks, built-ins, entry points, the ``PLUGINS`` setting, then a check."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name in (*BUILTIN_PLUGINS, *plugin_names):
        if pm.has_plugin(name) or pm.is_blocked(name):
            continue
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    # A misspelt hook fails here, at start-up, not on the first request.
    pm.check_pending()
    return pm


def plugin_manager() -> pluggy.PluginManager:
    return current_app.extensions["plugins"]


def _impls(hook_name: str):
    hook = getattr(plugin_manager().hook, hook_name)
    # pluggy calls the last registered (and tryfirst) implementations first.
    return [i for i in reversed(hook.get_hookimpls()) if not (i.hookwrapper or i.wrapper)]


def _call(impl, kwargs: dict):
    return impl.function(*[kwargs[name] for name in impl.argnames])


def call_before(hook_name: str, **kwargs) -> None:
    """Run a ``*_before_*`` hook inside the caller's transaction.

    A plugin vetoes by raising an :class:`~app.errors.AppError`, which reaches
    the client as it is. Any other exception is logged with the plugin's name
    and re-raised, so that the transaction rolls back and the request fails.
    """
    for impl in _impls(hook_name):
        try:
            _call(impl, kwargs)
        except AppError:
            raise
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)
            raise


def call_after(hook_name: str, **kwargs) -> None:
    """Run a ``*_after_*`` hook after commit: a failure is logged with the
    plugin's name and the other plugins still run; the request succeeds."""
    for impl in _impls(hook_name):
        try:
            _call(impl, kwargs)
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)


def collect(hook_name: str, **kwargs) -> list:
    """Call a contribution hook and flatten the lists the plugins return."""
    results = getattr(plugin_manager().hook, hook_name)(**kwargs)
    items: list = []
    for result in results:
        if result is None:
            continue
        if isinstance(result, list | tuple):
            items.extend(result)
        else:
            items.append(result)
    return items
