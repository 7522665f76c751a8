"""Services plugins offer each other (the ``register_services`` hook)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from app.config import ConfigError
from app.plugins import contributions


def init_app(app: Flask) -> None:
    """Gather every plugin's services; a name offered twice stops start-up."""
    offered: dict[str, tuple[str, Any]] = {}
    for plugin, answers in contributions(app.extensions["plugins"], "register_services").items():
        for answer in answers:
            for name, value in answer.items():
                if name in offered:
                    raise ConfigError(
                        f"plugins {offered[name][0]} and {plugin} both offer the service {name!r}"
                    )
                offered[name] = (plugin, value)
    app.extensions["services"] = {name: value for name, (_, value) in offered.items()}


def service(name: str) -> Any:
    """The service ``name`` of the current app (e.g. ``service("customers")``)."""
    try:
        return current_app.extensions["services"][name]
    except KeyError:
        known = ", ".join(sorted(current_app.extensions["services"])) or "none"
        raise LookupError(f"no plugin offers the service {name!r} (offered: {known})") from None
