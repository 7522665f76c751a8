"""Settings that plugins declare (the ``register_settings`` hook).

A plugin returns :class:`Setting` objects; when the app is built each is read
from the environment (or the app's overrides), parsed and checked, and its
value put in ``app.config`` under its name, where the plugin reads it
(``current_app.config["LOYALTY_POINTS_ON_SIGNUP"]``). A bad value stops
start-up with one line naming the plugin and the setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import limits

from app.config import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    """One setting of a plugin.

    :param name: the environment variable and config key, upper case, best
        prefixed with the plugin's name (``LOYALTY_POINTS_ON_SIGNUP``).
    :param type: ``str``, ``int``, ``float``, ``bool``, or any callable that
        turns the text into a value and raises ``ValueError`` on a bad one.
    :param default: the value when the variable is unset; with ``required``
        there is none.
    :param required: start-up stops when the variable is unset.
    :param secret: never shown: ``flask plugins`` prints ``***``.
    :param choices: the only values allowed, if given.
    :param minimum: the smallest value allowed, for numbers.
    :param help: one line for ``flask plugins`` and the docs.
    """

    name: str
    type: type | Callable[[str], Any] = str
    default: Any = None
    required: bool = False
    secret: bool = False
    choices: tuple | None = None
    minimum: float | None = None
    help: str = ""

    def parse(self, raw: Any) -> Any:
        """The value of ``raw`` (text from the environment, or a value given
        directly), checked; :class:`ValueError` with a reason otherwise."""
        if isinstance(raw, str):
            text = raw.strip()
            if self.type is bool:
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError("must be true or false")
                value = text.lower() in _TRUE
            elif self.type is int:
                try:
                    value = int(text)
                except ValueError:
                    raise ValueError("must be a whole number") from None
            elif self.type is float:
                try:
                    value = float(text)
                except ValueError:
                    raise ValueError("must be a number") from None
            else:
                value = self.type(text)
        else:
            value = raw
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(str(c) for c in self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}")
        return value

    def shown(self, value: Any) -> str:
        """The value as ``flask plugins`` prints it."""
        return "***" if self.secret and value not in (None, "") else repr(value)


def rate_limit(text: str) -> str:
    """A :class:`Setting` type for a rate limit like ``10/minute`` (what
    ``app.ratelimit`` reads); ``ValueError`` for anything else."""
    try:
        limits.parse_many(text)
    except ValueError:
        raise ValueError("must be a rate limit like '10/minute'") from None
    return text


def load(declared: dict[str, list[Setting]], config: dict, env: dict | None = None) -> None:
    """Read every declared setting into ``config``; a value already in
    ``config`` (an override) wins over the environment.

    :param declared: the settings of each plugin, by plugin name.
    :raise ConfigError: one line naming the plugin, the setting and the problem.
    """
    env = os.environ if env is None else env
    for plugin, settings in declared.items():
        for setting in settings:
            if setting.name in config:
                raw = config[setting.name]
            elif env.get(setting.name, "").strip():
                raw = env[setting.name]
            elif setting.required:
                raise ConfigError(f"plugin {plugin}: {setting.name} must be set")
            else:
                config[setting.name] = setting.default
                continue
            try:
                config[setting.name] = setting.parse(raw)
            except ValueError as error:
                shown = "***" if setting.secret else repr(raw)
                raise ConfigError(f"plugin {plugin}: {setting.name} {error}, got {shown}") from None
