"""Write docs/plugin-reference.md from the code, so that it cannot drift.

    python scripts/plugin_reference.py          # rewrite the file
    python scripts/plugin_reference.py --check  # exit 1 if it is out of date

The reference lists the public API (``app.plugin_api``), every hook (the
core's and the built-in plugins'), the events the built-in plugins declare
with their payloads, and the settings they declare. A test runs ``--check``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "plugin-reference.md"
sys.path.insert(0, str(ROOT))

HEADER = """# Plugin reference

Generated from the code by `python scripts/plugin_reference.py` (a test checks
that it is current): the public API, every hook, the events and the settings of
the built-in plugins. The tutorial is [plugins.md](plugins.md).
"""


def _doc(obj) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "").strip()


def _first_paragraph(obj) -> str:
    return _doc(obj).split("\n\n")[0].replace("\n", " ")


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def _public_api() -> list[str]:
    from app import plugin_api

    lines = ["## The public API: `app.plugin_api`", "", _doc(plugin_api), ""]
    for name in sorted(plugin_api.__all__, key=str.lower):
        obj = getattr(plugin_api, name)
        kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "object"
        signature = _signature(obj) if kind != "object" else ""
        lines.append(f"### `{name}{signature if kind == 'function' else ''}`")
        lines.append("")
        summary = _first_paragraph(obj) if kind != "object" else ""
        lines.append(f"*{kind}*. {summary}".rstrip())
        lines.append("")
    return lines


def _hooks(pm) -> list[str]:
    lines = ["## Hooks", ""]
    lines.append(
        "Each hook's owner adds its spec; implement it with `@hookimpl` on a function of"
        " the same name, taking any subset of its arguments."
    )
    lines.append("")
    owners: dict[str, list] = {}
    for name in sorted(dir(pm.hook)):
        caller = getattr(pm.hook, name)
        spec = getattr(caller, "spec", None)
        if spec is None:
            continue
        module = spec.function.__module__
        owner = "the core" if module == "app.hookspecs" else f"the {module.split('.')[1]} plugin"
        owners.setdefault(owner, []).append((name, spec))
    for owner in sorted(owners, key=lambda o: (o != "the core", o)):
        lines += [f"### Hooks of {owner}", ""]
        for name, spec in owners[owner]:
            opts = [key for key in ("firstresult", "historic") if spec.opts.get(key)]
            flags = f" ({', '.join(opts)})" if opts else ""
            lines += [
                f"#### `{name}{_signature(spec.function)}`{flags}",
                "",
                _doc(spec.function),
                "",
            ]
    return lines


def _events(pm) -> list[str]:
    from app.plugins import contributions

    lines = ["## Events", ""]
    lines.append("| event | plugin | when | payload |")
    lines.append("|---|---|---|---|")
    for plugin, events in sorted(contributions(pm, "register_events").items()):
        for event in events:
            payload = ""
            if event.payload is not None:
                payload = ", ".join(f"`{field}`" for field in event.payload().fields)
            lines.append(f"| `{event.name}` | {plugin} | {event.description} | {payload} |")
    lines.append("")
    return lines


def _settings(pm) -> list[str]:
    from app.plugins import contributions

    lines = ["## Settings of the built-in plugins", ""]
    found = contributions(pm, "register_settings")
    if not found:
        return lines + ["None.", ""]
    lines.append("| setting | plugin | type | default | |")
    lines.append("|---|---|---|---|---|")
    for plugin, settings in sorted(found.items()):
        for setting in settings:
            kind = getattr(setting.type, "__name__", str(setting.type))
            default = "(required)" if setting.required else f"`{setting.default!r}`"
            lines.append(f"| `{setting.name}` | {plugin} | {kind} | {default} | {setting.help} |")
    lines.append("")
    return lines


def render() -> str:
    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "PLUGINS": [],
            "PLUGINS_ONLY": [],
            "PLUGINS_BLOCKED": [],
        },
        env={},
    )
    pm = app.extensions["plugins"]
    with app.app_context():
        lines = [HEADER, *_public_api(), *_hooks(pm), *_events(pm), *_settings(pm)]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run {Path(__file__).name}")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
