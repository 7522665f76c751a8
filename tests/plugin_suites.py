"""Running a plugin's own test suite as its author does: pytest in a process
of its own, in the plugin's folder, with the service's pytest plugin loaded
through its entry point and no other pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def write(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path: text, dedented) under ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def run_suite(project: Path, report: Path, *paths: Path) -> subprocess.CompletedProcess:
    """pytest as a plugin's author runs it in ``project``, with what ``paths``
    hold installed (modules and ``*.dist-info`` folders), the outcome in the
    JUnit XML file ``report``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "PLUGINS")) and key != "DATABASE_URL"
    }
    env.update(PYTHONPATH=os.pathsep.join(map(str, paths)), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "evershop_customer_service",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-q",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def outcomes(report: Path) -> dict[str, str]:
    """``{test name: "passed" | "failed" | ...}`` from a JUnit XML report."""
    found = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        found[case.get("name")] = "failed" if failed else "skipped" if skipped else "passed"
    return found
