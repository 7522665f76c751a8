"""The core's hooks: what any plugin can contribute to the app.

The hooks of a domain (customers, addresses, passwords) are specified by the
plugin that owns it, in its ``hookspecs`` module, added to the manager through
:func:`register_hookspecs` when that plugin loads.

Implement a hook with ``@hookimpl`` (from :mod:`app.plugin_api`, or your own
``pluggy.HookimplMarker("evershop")``) on a function of the same name in your
plugin module. An implementation may accept any subset of the arguments listed
here, by name; the service calls hooks with keywords only, and specs only ever
gain arguments, so a plugin written today keeps working.

Families:

* ``register_*`` — return things for the core to add (blueprints, commands).
* ``<entity>_before_<verb>`` — run inside the transaction, before the write.
  They may change ``data`` in place. To refuse the operation, raise one of
  :mod:`app.errors` (``BadRequest``, ``Forbidden``, ``Conflict``, ...): the
  client gets its status and message, and nothing is written. Any other
  exception rolls back and fails the request with a 500, logged with the
  plugin's name.
* ``<entity>_after_<verb>`` — run after commit, in the request's process.
  They cannot undo the write; an exception is logged with the plugin's name and
  the request still succeeds. Side effects that must happen belong in event
  subscribers, which are durable.
* rules — return extra checks; every plugin's rules apply.
* ``firstresult`` providers — the first non-None answer wins.

Objects handed to hooks are the resource as the API shows it (plain dicts,
never a password hash), except where a spec says otherwise. ``context`` is an
:class:`app.plugin_api.HookContext`: who acts (``actor_type`` ``"admin"``,
``"customer"`` or ``None``), the request id, and an ``extra`` dict that a
plugin may use to carry data from a before-hook to its after-hook.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from apispec import APISpec
from flask import Flask
from flask.cli import AppGroup

from app.mail import OutgoingMail

hookspec = pluggy.HookspecMarker("evershop")


# --- the plugin system itself ------------------------------------------------


@hookspec(historic=True)
def register_hookspecs() -> ModuleType | type | None:
    """Return the hook specifications this plugin owns (a module or a class of
    ``@hookspec`` functions), so that other plugins can implement them.

    Called once for each plugin as it is registered, before the app is built.
    The customer plugin returns ``plugins.customer.hookspecs``, for example.
    Name your hooks after your domain (``loyalty_before_award``), never after
    another plugin's.

    :return: the specs, or None.
    """


# --- contributions ---------------------------------------------------------


@hookspec
def register_blueprints(app: Flask) -> Any:
    """Return the blueprints this plugin serves.

    Called once, while the app is built, before the first request.

    :param app: the :class:`flask.Flask` being built (read its ``config``;
        do not register anything on it directly).
    :return: a blueprint or a list of them. :class:`app.http.Blueprint`
        (flask-smorest) blueprints are added to the API and its OpenAPI
        document; plain :class:`flask.Blueprint` objects are registered as they
        are. Prefix your URLs with ``/api``.
    """


@hookspec
def register_graphql(audience: str) -> Any:
    """Return what this plugin adds to a GraphQL schema.

    Called once per schema while the app is built: ``audience`` is ``"admin"``
    (served at ``/api/admin/graphql`` to admin tokens) or ``"public"``
    (``/api/graphql``, the storefront's, where a customer token is optional).
    The core declares ``type Query`` (empty), ``Date``, ``FilterInput``,
    ``FilterOperation`` and ``FilterOutput``; add fields with ``extend type``.

    :param audience: ``"admin"`` or ``"public"``.
    :return: an :class:`app.graphql.GraphQLContribution` (SDL and ariadne
        bindables), a list of them, or None to add nothing to that schema.
        Resolvers find the caller in ``info.context["principal"]`` and should
        load children through :func:`app.graphql.batched` so that a page of
        results costs a constant number of queries.
    """


@hookspec
def extend_openapi(spec: APISpec) -> None:
    """Change the OpenAPI document after every route was added to it.

    Called once, at the end of building the app. The core uses it to add
    plugin fields to the schemas of the entities they extend; a plugin may
    add descriptions, examples or tags of its own.

    :param spec: the document, an :class:`apispec.APISpec` (its
        ``components.schemas`` hold the schemas by name).
    :return: ignored.
    """


@hookspec
def register_commands(cli: AppGroup) -> None:
    """Add command-line commands to ``flask``.

    Called once, while the app is built.

    :param cli: the app's :class:`flask.cli.AppGroup` (``app.cli``); call
        ``cli.add_command(...)`` or decorate with ``@cli.command()``.
    :return: ignored.
    """


@hookspec
def register_services() -> dict[str, Any] | None:
    """Return the services this plugin offers other plugins, by name.

    Called once while the app is built. The customer plugin offers
    ``"customers"`` (find, lock, create, update, delete, set a password:
    docs/plugins.md, "The customer service"); other plugins reach it with
    :func:`app.plugin_api.service` rather than importing the plugin, so that
    a store could swap the plugin out. Two plugins offering one name stop
    start-up.

    :return: ``{name: object}``, or None.
    """


@hookspec
def register_settings() -> Any:
    """Return the settings this plugin reads, as :class:`app.plugin_api.Setting`
    objects (name, type, default, whether required or secret, help).

    Called once while the app is built. Each setting is read from the
    environment variable of its name, parsed and checked, and put in
    ``current_app.config[name]``; a bad value stops start-up with one line
    naming the plugin. ``flask plugins`` lists them, secrets masked. Prefix
    the names with your plugin's (``LOYALTY_POINTS_ON_SIGNUP``).

    :return: a setting or a list of them.
    """


@hookspec
def register_migrations() -> Path | str | None:
    """Return the folder of Alembic revisions that make this plugin's tables.

    Called once while the app is built; a plugin that returns more than one
    folder, or one that does not exist, stops start-up with a line naming it.
    The folder holds revision files only (no ``env.py``): the core's Alembic
    environment runs them, on the same database and connection as its own.
    Its revisions form a branch of their own:

    * the first one has ``down_revision = None``, ``branch_labels =
      ("<plugin name>",)`` and ``depends_on`` the core revision whose tables
      it refers to (``"0001"`` for ``customer``); later ones revise the
      plugin's own revisions only — a revision outside the folder in
      ``down_revision`` stops ``flask db upgrade`` and ``/readyz`` with the
      plugin's name;
    * revision ids are unique across every plugin: prefix them with the
      plugin's name (``loyalty_0001``).

    ``flask db upgrade`` applies the core's and every plugin's revisions (it
    goes to ``heads``); ``/readyz`` answers 503 naming the plugin while its
    branch is behind; ``flask plugins`` shows the folder, its head and where
    the database is. Until the plugin's revisions ran its tables are missing:
    a ``*_extend_read`` hook that queries them fails, is logged with the
    plugin's name, and the read goes on without it. docs/plugins.md, "Tables
    and migrations", walks through it.

    :return: a :class:`pathlib.Path` or a path as text, or None when the
        plugin has no tables.
    """


@hookspec
def register_mail_templates() -> Any:
    """Return a folder of email templates this plugin ships.

    Called once while the app is built. A template is found by its file name
    in ``MAIL_TEMPLATES_DIR`` first (the store's), then in the plugins'
    folders, a plugin loaded later before one loaded earlier (so an installed
    plugin's ``reset_password.html`` overrides the built-in one), then in the
    built-in plugins' own. An email ``name`` is rendered from
    ``<name>_subject.txt``, ``<name>.txt`` and, if found, ``<name>.html``
    (:func:`app.plugin_api.render_mail`).

    :return: a :class:`pathlib.Path` or a path as text, or None.
    """


@hookspec
def mail_before_send(message: OutgoingMail) -> None:
    """Called for every email just before it is handed to the mail server.

    Runs where the email is sent: in the process that delivers events (the
    reset email), outside any transaction.

    :param message: an :class:`app.plugin_api.OutgoingMail` (``to``,
        ``subject``, ``text``, ``html``, ``template``), which the hook may change
        in place (a footer, a BCC-free rewrite of ``to`` in a staging
        environment). Call ``message.cancel(reason)`` to stop it being sent:
        the caller is told, and a reset email then keeps no token and is not
        retried. An exception fails the sending, which the event path retries.
    :return: ignored.
    """


@hookspec
def register_events() -> Any:
    """Return the events this plugin emits, as :class:`app.plugin_api.EventType`
    objects (name, description, payload schema).

    Called once while the app is built. Subscribers and the reference in
    docs/plugin-reference.md rely on them; emit only declared events, with
    :func:`app.plugin_api.emit`.

    :return: an event type or a list of them.
    """


@hookspec
def event_emitted(name: str, payload: dict) -> None:
    """Called each time an event is emitted, inside the transaction of the
    change that emits it, right after the event was added to the outbox.

    Use it to keep a record that must exist exactly when the change does (the
    timeline plugin writes a customer's history here): what the hook writes
    with ``app.plugin_api.db`` commits or rolls back with the change. Keep it
    cheap, and never talk to the network here (subscribe to the event for
    that). Who acts is ``app.plugin_api.current_actor()``. An
    exception rolls the change back and fails it (a 500, or the client's
    status for an :class:`app.errors.AppError`). The hook may emit events of
    its own.

    :param name: the event's name (``customer_updated``).
    :param payload: the event's payload, as subscribers will get it (do not
        change it).
    :return: ignored.
    """


@hookspec
def password_rules() -> Callable[[str], str | None] | list | None:
    """Return extra rules every new password must pass.

    Called each time a password is set: customer create and update, password
    reset, admin user creation. The built-in rules (at least
    ``PASSWORD_MIN_LENGTH`` characters, at most 72 bytes in UTF-8) run first.

    :return: a callable or a list of callables ``rule(password: str) -> str |
        None``; a rule returns None to accept, or a message (shown to the client
        in a 400 for the field ``password``) to refuse. Rules must not log or
        store the password.
    """


@hookspec
def subscribe() -> dict[str, Callable] | None:
    """Return the event handlers of this plugin: ``{event_name: handler}``.

    Events (docs/api.md, "Events") are written in the transaction of the change that
    causes them and delivered after it committed, at least once: from a
    background thread of the process that committed, and again by ``flask
    events run`` until every subscriber succeeded. Asked each time an event is
    delivered, so keep it cheap (return a module-level dict).

    A handler is called as ``handler(event)`` with an :class:`app.events.Event`
    (``name``, ``payload`` — the object as the API shows it, never a password
    hash —, ``uuid``, ``created_at``, ``attempt``), inside an app context but
    outside any request. It may use the database; it must commit its own
    writes (``app.db.transaction``). Raising any exception marks the delivery to
    this plugin as failed: it is retried later with exponential backoff, while
    the other subscribers of the event are not called again once they
    succeeded. Because delivery is at least once, a handler must tolerate
    seeing an event twice (use ``event.uuid`` to recognise it).

    :return: a dict mapping event names to a handler or a list of handlers.
    """


@hookspec(firstresult=True)
def auth_account_for_token(token_type: str, claims: dict) -> dict | None:
    """Return the account an access token speaks for, or None to refuse it.

    Called on every authenticated request, after the signature, issuer,
    audience, expiry and kind of the token were checked. The core answers for
    ``token_type == "admin"``; the customer plugin for ``"customer"``. A
    plugin adding a token type answers for its own and returns None otherwise.

    :param token_type: the ``tokenType`` claim (``"admin"``, ``"customer"``).
    :param claims: the verified claims of the token (a dict; do not mutate).
    :return: the account as the API shows it (a dict), if it still exists, is
        active, and the token was issued after its password last changed;
        otherwise None, and the client gets a 401.
    """
