"""gunicorn's logger (app/gunicorn_logger.py): the service writes the access
line itself, so gunicorn builds none unless an access log is asked for."""

from __future__ import annotations

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.gunicorn_logger import ServiceLogger


@pytest.fixture
def built_lines(monkeypatch) -> list:
    """The access lines gunicorn's own logger was asked to build."""
    built = []
    monkeypatch.setattr(Logger, "access", lambda self, *args: built.append(args))
    return built


def test_gunicorn_builds_no_access_line_of_its_own(built_lines):
    logger = ServiceLogger(Config())

    logger.access("response", "request", {}, 0.01)

    assert built_lines == []


def test_an_access_log_asked_for_is_still_written(built_lines, tmp_path):
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = ServiceLogger(config)

    logger.access("response", "request", {}, 0.01)

    assert built_lines == [("response", "request", {}, 0.01)]
