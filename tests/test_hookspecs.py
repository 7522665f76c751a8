"""Meta-tests: every hook is documented for plugin authors, typed, pinned, and
has a test of its own.

A new hookspec fails these until its docstring has a ``:param name:`` for each
argument, its arguments and return carry type hints, its signature is added
to ``tests/hookspec_signatures.txt`` (so that a change to a spec is always
deliberate), and a test function named after the hook exists under ``tests/``.
A test named after a hook fails unless the hook is called, with an
implementation to run, while it runs (``tests/conftest.py``), so the name
is not enough: the test has to exercise the hook.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from tests.helpers import hookspecs

TESTS = Path(__file__).resolve().parent
PINNED = TESTS / "hookspec_signatures.txt"
HOOKSPECS = hookspecs()


def test_hookspecs_are_found():
    # guards the parametrised tests below against an empty list
    assert {"register_blueprints", "customer_before_create", "address_rules"} <= set(HOOKSPECS)


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_has_a_docstring(name):
    assert (inspect.getdoc(HOOKSPECS[name]) or "").strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_documents_each_argument(name):
    doc = inspect.getdoc(HOOKSPECS[name]) or ""
    arguments = list(inspect.signature(HOOKSPECS[name]).parameters)

    undocumented = [arg for arg in arguments if f":param {arg}:" not in doc]

    assert undocumented == [], f"{name}: no ':param <name>:' for {undocumented}"


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_is_typed(name):
    signature = inspect.signature(HOOKSPECS[name])

    untyped = [
        p for p, v in signature.parameters.items() if v.annotation is inspect.Parameter.empty
    ]

    assert untyped == [], f"{name}: no type hint for {untyped}"
    assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type"


def _pinned() -> dict[str, str]:
    lines = PINNED.read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines if line.strip())


def test_hookspec_signatures_are_pinned():
    current = {name: str(inspect.signature(spec)) for name, spec in HOOKSPECS.items()}

    assert current == _pinned(), (
        "a hookspec changed: specs only gain arguments (deprecate with warn_on_impl_args);"
        " update tests/hookspec_signatures.txt when the change is deliberate"
    )


def _test_function_names() -> set[str]:
    names = set()
    for path in TESTS.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_has_a_test_function_named_for_it(name):
    named = [test for test in _test_function_names() if name in test]

    assert named, f"no test function under tests/ is named for the hook {name}"
