"""docs/plugin-reference.md is generated from the code and must be current
(``python scripts/plugin_reference.py`` rewrites it)."""

from __future__ import annotations

from scripts.plugin_reference import TARGET, render


def test_plugin_reference_is_generated_from_the_current_code():
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "docs/plugin-reference.md is out of date: run python scripts/plugin_reference.py"
    )
