"""The application factory: the core that plugins build on."""

from __future__ import annotations

import logging

import flask_smorest
from flask import Flask

from app import (
    cors,
    errors,
    events,
    graphql,
    health,
    http,
    logs,
    mail,
    metrics,
    migrations,
    openapi,
    ratelimit,
    services,
    settings,
)
from app.auth import guards, tokens
from app.config import load_config, startup_warnings
from app.db import db, init_outage_handling, migrate
from app.plugins import build_plugin_manager, collect, contributions

log = logging.getLogger(__name__)


def create_app(overrides: dict | None = None, env: dict | None = None) -> Flask:
    """Build the service.

    :param overrides: config values that win over the environment (tests).
    :param env: the environment to read settings from (default ``os.environ``).
    """
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, env))
    app.config.update(overrides or {})
    app.config.update(
        API_TITLE="EverShop Customer API",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    _configure_logging(app)
    for warning in startup_warnings(app.config):
        log.warning(warning)

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    tokens.init_app(app)
    http.init_app(app)
    metrics.init_app(app)
    guards.init_app(app)
    events.init_app(app)
    health.init_app(app)
    app.before_request(app.extensions["events"].start_polling)
    api = openapi.init_app(app)
    app.extensions["api"] = api

    pm = build_plugin_manager(app.config)
    app.extensions["plugins"] = pm
    declared = contributions(pm, "register_settings")
    app.extensions["plugin_settings"] = declared
    settings.load(declared, app.config, env)
    services.init_app(app)
    migrations.init_app(app)
    mail.init_app(app)
    with app.app_context():
        for blueprint in collect("register_blueprints", app=app):
            if isinstance(blueprint, flask_smorest.Blueprint):
                api.register_blueprint(blueprint)
            else:
                app.register_blueprint(blueprint)
        pm.hook.register_commands(cli=app.cli)
    graphql.init_app(app)
    openapi.finish_document(app, api.spec)
    with app.app_context():
        pm.hook.extend_openapi(spec=api.spec)
    init_outage_handling(app)  # inside the rate limits: a retried read counts once
    ratelimit.init_app(app)
    cors.init_app(app)

    from app.cli import db_command, events_cli, evershop_cli, plugins_command

    app.cli.add_command(plugins_command)
    app.cli.add_command(events_cli)
    app.cli.add_command(db_command())  # in place of Flask-Migrate's: upgrades every branch
    app.cli.add_command(evershop_cli)
    errors.init_app(app)  # last: our envelope wins over flask-smorest's handler
    return app


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _configure_logging(app: Flask) -> None:
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
