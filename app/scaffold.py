"""``flask plugins new NAME``: the skeleton of a plugin package, from the
templates in ``app/plugin_template/`` (docs/plugins.md, "A new plugin in one
command").

The package installs with ``pip install -e`` and passes its own tests as
written: an entry point in the ``evershop.plugins`` group, a plugin module
that imports only :mod:`app.plugin_api`, a setting, a table made by the
plugin's own Alembic branch, a customer field read from it, a subscriber that
fills it, and tests with the fixtures of :mod:`app.testing`.
"""

from __future__ import annotations

import keyword
import re
from datetime import date
from importlib import resources
from pathlib import Path
from string import Template

from app.plugins import BUILTIN_PLUGINS

# The service's distribution, which a plugin depends on.
SERVICE_DISTRIBUTION = "evershop-customer-service"
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME_LENGTH = 30  # names its tables, constraints and revisions

# Template -> where it goes, relative to the package's folder.
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "package_init.py.tmpl": "{package}/__init__.py",
    "plugin.py.tmpl": "{package}/plugin.py",
    "migration.py.tmpl": "{package}/migrations/{name}_0001_initial.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


class ScaffoldError(ValueError):
    """The name or the place cannot be used; the message says why."""


def check_name(name: str) -> None:
    """A plugin name: a lower-case Python identifier, not a keyword, not a
    built-in plugin's name; :class:`ScaffoldError` otherwise."""
    if not NAME.match(name):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: lower-case letters, digits and underscores,"
            " starting with a letter"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword")
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(f"{name!r} is longer than {MAX_NAME_LENGTH} characters")
    if name in BUILTIN_PLUGINS or name == "core":
        raise ScaffoldError(f"{name!r} is the name of a part of the service")


def values(name: str) -> dict[str, str]:
    """What the templates are filled with."""
    head, *rest = name.split("_")
    return {
        "name": name,
        "package": f"evershop_{name}",
        "distribution": f"evershop-{name.replace('_', '-')}",
        "service_distribution": SERVICE_DISTRIBUTION,
        "setting": f"{name.upper()}_GREETING",
        "table": f"{name}_note",
        "field": f"{name}_note",
        "graphql_name": head + "".join(part.title() for part in rest) + "Note",
        "revision": f"{name}_0001",
        "date": date.today().isoformat(),
    }


def generate(name: str, parent: Path) -> Path:
    """Write the package of plugin ``name`` into ``parent/evershop-<name>``
    and return that folder.

    :raise ScaffoldError: a bad name, or the folder exists already (nothing
        is written then).
    """
    check_name(name)
    filled = values(name)
    target = Path(parent) / filled["distribution"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists")
    templates = resources.files("app") / "plugin_template"
    rendered = {
        target / relative.format(**filled): Template(
            (templates / template).read_text(encoding="utf-8")
        ).substitute(filled)
        for template, relative in FILES.items()
    }
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
