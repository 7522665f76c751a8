"""``flask plugins new NAME`` (docs/plugins.md, "A new plugin in one
command"): the package it writes, the names it refuses, and the generated
plugin passing its own tests as written (run as its author runs them, with
the package on the path and its entry point declared; CI also installs one
with pip: ``make test-examples``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from tests.conftest import _base_config
from tests.plugin_suites import outcomes, run_suite, write
from tests.test_examples import service_imports

GENERATED = [
    ".gitignore",
    "README.md",
    "evershop_demo/__init__.py",
    "evershop_demo/migrations/demo_0001_initial.py",
    "evershop_demo/plugin.py",
    "pyproject.toml",
    "tests/test_plugin.py",
]


@pytest.fixture
def runner():
    """The ``flask`` commands of an app whose database is never used."""
    return create_app(_base_config("sqlite://")).test_cli_runner()


def files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_plugins_new_writes_the_package(runner, tmp_path):
    result = runner.invoke(args=["plugins", "new", "demo", "--path", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"wrote {tmp_path / 'evershop-demo'}"
    assert files(tmp_path / "evershop-demo") == GENERATED


def test_plugins_new_declares_the_entry_point_and_the_service_dependency(runner, tmp_path):
    runner.invoke(args=["plugins", "new", "my_shop", "--path", str(tmp_path)])

    pyproject = (tmp_path / "evershop-my-shop" / "pyproject.toml").read_text()

    assert 'name = "evershop-my-shop"' in pyproject
    assert 'dependencies = ["evershop-customer-service"]' in pyproject
    assert '[project.entry-points."evershop.plugins"]\nmy_shop = "evershop_my_shop.plugin"' in (
        pyproject
    )
    assert 'evershop_plugins = ["my_shop"]' in pyproject


def test_plugins_new_revision_starts_a_branch_labelled_with_the_name(runner, tmp_path):
    runner.invoke(args=["plugins", "new", "my_shop", "--path", str(tmp_path)])
    path = tmp_path / "evershop-my-shop" / "evershop_my_shop" / "migrations"
    namespace: dict = {}

    exec((path / "my_shop_0001_initial.py").read_text(), namespace)

    assert (
        namespace["revision"],
        namespace["down_revision"],
        namespace["branch_labels"],
        namespace["depends_on"],
    ) == ("my_shop_0001", None, ("my_shop",), "0001")


def test_generated_plugin_imports_only_the_public_api(runner, tmp_path):
    runner.invoke(args=["plugins", "new", "demo", "--path", str(tmp_path)])

    assert service_imports(tmp_path / "evershop-demo") == {}


def test_generated_plugin_is_formatted_and_passes_its_linter(runner, tmp_path):
    runner.invoke(args=["plugins", "new", "demo", "--path", str(tmp_path)])
    folder = tmp_path / "evershop-demo"
    ruff = [sys.executable, "-m", "ruff"]

    # With the package's own settings ([tool.ruff] of its pyproject.toml).
    checked = subprocess.run([*ruff, "check", "."], cwd=folder, capture_output=True, text=True)
    formatted = subprocess.run(
        [*ruff, "format", "--check", "."], cwd=folder, capture_output=True, text=True
    )

    assert (checked.returncode, formatted.returncode) == (0, 0), checked.stdout + formatted.stdout


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Demo",
            "'Demo' is not a plugin name: lower-case letters, digits and underscores,"
            " starting with a letter",
        ),
        (
            "my-shop",
            "'my-shop' is not a plugin name: lower-case letters, digits and underscores,"
            " starting with a letter",
        ),
        ("class", "'class' is a Python keyword"),
        ("customer", "'customer' is the name of a part of the service"),
        ("core", "'core' is the name of a part of the service"),
        ("a" * 31, f"{'a' * 31!r} is longer than 30 characters"),
    ],
)
def test_plugins_new_refuses_a_name_that_cannot_be_a_plugins(runner, tmp_path, name, message):
    result = runner.invoke(args=["plugins", "new", name, "--path", str(tmp_path)])

    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_plugins_new_refuses_a_folder_that_exists(runner, tmp_path):
    (tmp_path / "evershop-demo").mkdir()
    (tmp_path / "evershop-demo" / "notes.txt").write_text("mine")

    result = runner.invoke(args=["plugins", "new", "demo", "--path", str(tmp_path)])

    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'evershop-demo'} already exists\n"
    assert files(tmp_path / "evershop-demo") == ["notes.txt"]


def test_generated_plugin_passes_its_own_tests(runner, tmp_path):
    runner.invoke(args=["plugins", "new", "demo", "--path", str(tmp_path)])
    package = tmp_path / "evershop-demo"
    # What `pip install` would add: the package's entry point.
    write(
        tmp_path / "site",
        {
            "evershop_demo-0.1.0.dist-info/METADATA": """
                Metadata-Version: 2.1
                Name: evershop-demo
                Version: 0.1.0
            """,
            "evershop_demo-0.1.0.dist-info/entry_points.txt": """
                [evershop.plugins]
                demo = evershop_demo.plugin
            """,
        },
    )
    report = tmp_path / "report.xml"

    done = run_suite(package, report, tmp_path / "site", package)

    assert done.returncode == 0, done.stdout + done.stderr
    assert outcomes(report) == {
        "test_a_new_customer_gets_a_note": "passed",
        "test_the_setting_is_the_greeting": "passed",
        "test_a_disabled_account_gets_no_note": "passed",
        "test_the_note_is_in_graphql": "passed",
        "test_a_customer_cannot_set_the_note": "passed",
    }
