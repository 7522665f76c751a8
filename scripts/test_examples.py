"""`make test-examples`: the plugins of examples/, and one made by
`flask plugins new`, tested as their authors test them (docs/plugins.md).

Each is installed into this virtualenv with ``pip install -e`` and its own
suite run in its folder by pytest, with the service's pytest plugin loaded
through its entry point (``-p evershop_customer_service``, every other
pytest plugin's autoload off), on SQLite, or on PostgreSQL when
``TEST_DATABASE_URL`` is set. What this installed is uninstalled at the end,
pass or fail, so the virtualenv serves ``make run`` as before.

    python scripts/test_examples.py
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCAFFOLD_NAME = "demo"


def log(message: str) -> None:
    print(f"test-examples: {message}", flush=True)


def run(command: list[str], **kwargs) -> None:
    done = subprocess.run(command, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"test-examples: failed ({done.returncode}): {' '.join(command)}")


def installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def distribution_of(folder: Path) -> str:
    import tomllib

    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]


def pip(*args: str) -> None:
    run([sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check", *args])


def suite(folder: Path) -> None:
    """The package's own tests, as its author runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    started = time.monotonic()
    run(
        [sys.executable, "-m", "pytest", "-p", "evershop_customer_service", "-q"],
        cwd=folder,
        env=env,
    )
    log(f"{folder.name}: passed in {time.monotonic() - started:.1f}s")


def scaffold(parent: Path) -> Path:
    """``flask plugins new`` as a developer types it (no other installed
    plugin loaded; development secrets given, so none is written)."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "PLUGINS_ONLY": "",
        **{
            name: secrets.token_urlsafe(32)
            for name in (
                "SECRET_KEY",
                "JWT_ADMIN_SECRET",
                "JWT_ADMIN_REFRESH_SECRET",
                "JWT_CUSTOMER_SECRET",
                "JWT_CUSTOMER_REFRESH_SECRET",
            )
        },
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run([*flask, "plugins", "new", SCAFFOLD_NAME, "--path", str(parent)], cwd=ROOT, env=env)
    return parent / f"evershop-{SCAFFOLD_NAME}"


def main() -> int:
    folders = sorted(path for path in EXAMPLES.iterdir() if (path / "pyproject.toml").exists())
    added: list[str] = []
    with tempfile.TemporaryDirectory(prefix="evershop-plugin-") as scratch:
        try:
            for folder in folders:
                name = distribution_of(folder)
                if not installed(name):
                    added.append(name)
            log(f"pip install -e {' '.join(f.name for f in folders)}")
            pip("install", *[arg for folder in folders for arg in ("-e", str(folder))])
            for folder in folders:
                suite(folder)

            generated = scaffold(Path(scratch))
            added.append(distribution_of(generated))
            log(f"pip install -e {generated.name} (made by flask plugins new)")
            pip("install", "-e", str(generated))
            suite(generated)
        finally:
            if added:
                log(f"pip uninstall {' '.join(added)}")
                pip("uninstall", "--yes", *added)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
