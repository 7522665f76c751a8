"""Reproducible builds (docs/operations.md, "Building"): the lock files pin
every dependency pyproject.toml declares, at a version it allows, with
hashes; the Dockerfile starts from an image pinned by digest and installs the
service's lock file before it copies the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def locked(name: str) -> dict[str, str]:
    """``{package: version}`` pinned by ``requirements/<name>.lock``."""
    text = (ROOT / "requirements" / f"{name}.lock").read_text()
    return {
        canonicalize_name(package): version
        for package, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }


@pytest.mark.parametrize(
    ("lock", "declared"),
    [
        ("service", PROJECT["dependencies"]),
        ("test", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]),
    ],
)
def test_the_lock_file_pins_every_declared_dependency_at_an_allowed_version(lock, declared):
    pins = locked(lock)
    for line in declared:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements/{lock}.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements/{lock}.lock pins {name}=={pins[name]}, which {line!r} refuses:"
            " run make lock"
        )


@pytest.mark.parametrize("lock", ["service", "test"])
def test_every_pin_has_hashes(lock):
    text = (ROOT / "requirements" / f"{lock}.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n\n", 1)[-1])

    unhashed = [entry.split()[0] for entry in entries if "==" in entry and "--hash=" not in entry]

    assert unhashed == []


def test_the_lock_files_name_no_local_index_or_path():
    for lock in ("service", "test"):
        text = (ROOT / "requirements" / f"{lock}.lock").read_text()
        assert "--index-url" not in text and "--find-links" not in text
        assert "file://" not in text


def test_the_dockerfile_starts_from_an_image_pinned_by_digest():
    dockerfile = (ROOT / "Dockerfile").read_text()

    (image,) = re.findall(r"^FROM (\S+)", dockerfile, re.M)

    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", image)


def test_the_dockerfile_installs_the_dependencies_before_it_copies_the_code():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    dependencies = lines.index("RUN pip install --require-hashes -r requirements/service.lock")
    first_code = min(i for i, line in enumerate(lines) if line.startswith("COPY app"))

    assert lines[dependencies - 1] == "COPY requirements/service.lock ./requirements/service.lock"
    assert dependencies < first_code
