"""Meta-tests: every hook is documented for plugin authors, and tested.

A new hookspec fails these until its docstring has a ``:param name:`` for each
argument and some test file under ``tests/`` names it.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from app import hookspecs

TESTS = Path(__file__).resolve().parent

HOOKSPECS = {
    name: function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "evershop_spec")
}


def test_hookspecs_are_found():
    # guards the parametrised tests below against an empty list
    assert {"register_blueprints", "customer_before_create", "customer_after_delete"} <= set(
        HOOKSPECS
    )


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_has_a_docstring(name):
    assert (inspect.getdoc(HOOKSPECS[name]) or "").strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_documents_each_argument(name):
    doc = inspect.getdoc(HOOKSPECS[name]) or ""
    arguments = list(inspect.signature(HOOKSPECS[name]).parameters)

    undocumented = [arg for arg in arguments if f":param {arg}:" not in doc]

    assert undocumented == [], f"{name}: no ':param <name>:' for {undocumented}"


def _test_sources() -> dict[str, str]:
    return {
        str(path.relative_to(TESTS)): path.read_text(encoding="utf-8")
        for path in sorted(TESTS.rglob("test_*.py"))
        if path.name != Path(__file__).name
    }


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_is_named_in_a_test_file(name):
    word = re.compile(rf"\b{re.escape(name)}\b")

    testing_files = [path for path, text in _test_sources().items() if word.search(text)]

    assert testing_files, f"no test file under tests/ names the hook {name}"
