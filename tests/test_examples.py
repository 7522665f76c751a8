"""The example plugins of examples/ (docs/plugins.md): real packages that
import nothing of the service but its public API, ``app.plugin_api``. Their
own suites run through the service's pytest plugin in ``make test-examples``."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PUBLIC_API = "app.plugin_api"
# The service's packages: private to it, but for PUBLIC_API.
SERVICE_PACKAGES = {"app", "plugins"}

EXPECTED = {
    "loyalty-points": ("evershop-loyalty", "loyalty", "evershop_loyalty.plugin"),
    "disposable-email-policy": (
        "evershop-email-policy",
        "email_policy",
        "evershop_email_policy.plugin",
    ),
    "crm-sync": ("evershop-crm-sync", "crm_sync", "evershop_crm_sync.plugin"),
}


def service_imports(folder: Path) -> dict[str, list[str]]:
    """``{file: [module, ...]}``: what the Python files under ``folder``
    import of the service, other than its public API."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        modules = []
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module in SERVICE_PACKAGES:  # from app import plugin_api
                    modules += [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    modules.append(node.module)
        bad = [m for m in modules if m.split(".")[0] in SERVICE_PACKAGES and m != PUBLIC_API]
        if bad:
            found[str(path.relative_to(folder))] = bad
    return found


def test_the_examples_are_the_three_plugins():
    assert sorted(path.name for path in EXAMPLES.iterdir() if path.is_dir()) == sorted(EXPECTED)


def test_examples_import_nothing_of_the_service_but_its_public_api():
    assert service_imports(EXAMPLES) == {}


def test_an_import_of_a_private_module_is_found(tmp_path):
    (tmp_path / "plugin.py").write_text(
        "from app.plugin_api import hookimpl\n"
        "from app.db import db\n"
        "import plugins.customer.service\n"
        "from app import events, plugin_api\n"
        "import app\n"
    )

    assert service_imports(tmp_path) == {
        "plugin.py": ["app.db", "plugins.customer.service", "app.events", "app"]
    }


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_each_example_is_a_package_with_its_plugin_entry_point(folder):
    distribution, name, module = EXPECTED[folder]
    project = tomllib.loads((EXAMPLES / folder / "pyproject.toml").read_text())["project"]

    assert project["name"] == distribution
    assert project["entry-points"]["evershop.plugins"] == {name: module}
    assert project["dependencies"] == ["evershop-customer-service"]
    assert (EXAMPLES / folder / module.replace(".", "/")).with_suffix(".py").is_file()
    assert (EXAMPLES / folder / "README.md").is_file()


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_each_example_tests_itself_with_the_service_fixtures(folder):
    distribution, name, _ = EXPECTED[folder]
    options = tomllib.loads((EXAMPLES / folder / "pyproject.toml").read_text())["tool"]["pytest"]

    assert options["ini_options"]["evershop_plugins"] == [name]
    assert list((EXAMPLES / folder / "tests").glob("test_*.py"))
