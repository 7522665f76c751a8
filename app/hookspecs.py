"""Every hook a plugin can implement.

Implement a hook with ``@hookimpl`` (from :mod:`app.plugins`, or your own
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
:class:`app.plugins.HookContext`: who acts (``actor_type`` ``"admin"``,
``"customer"`` or ``None``), the request id, and an ``extra`` dict that a
plugin may use to carry data from a before-hook to its after-hook.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("evershop")


# --- contributions ---------------------------------------------------------


@hookspec
def register_blueprints(app):
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
def register_graphql(audience):
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
def register_commands(cli):
    """Add command-line commands to ``flask``.

    Called once, while the app is built.

    :param cli: the app's :class:`flask.cli.AppGroup` (``app.cli``); call
        ``cli.add_command(...)`` or decorate with ``@cli.command()``.
    :return: ignored.
    """


@hookspec
def password_rules():
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
def subscribe():
    """Return the event handlers of this plugin: ``{event_name: handler}``.

    Events (CONTRACT §8) are written in the transaction of the change that
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
def auth_account_for_token(token_type, claims):
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


# --- customers ---------------------------------------------------------------


@hookspec
def customer_extend_read(customers):
    """Add fields to customers that are about to be shown one by one.

    Called, outside any write transaction, when a customer is read through
    ``GET /api/customers/{uuid}`` or ``GET /api/customers/me``, after the
    customers were loaded. It receives every customer of the answer at once,
    so that one query can serve them all (never one query per customer).

    :param customers: a list of customers as the API shows them; set your
        fields on each dict in place (e.g. ``customer["addresses"] = [...]``).
        Do not remove or change the core fields.
    :return: ignored.
    """


@hookspec
def customer_before_create(data, context):
    """Called before a customer is inserted, inside the transaction.

    :param data: the validated input (``email``, ``full_name``, ``status``,
        ``group_id`` and any plugin fields), which the hook may change in place;
        changed values are not validated again. The password is not in it.
    :param context: who is acting (:class:`app.plugins.HookContext`).
    :raise app.errors.AppError: to refuse the sign-up with that status and message.
    """


@hookspec
def customer_after_create(customer, context):
    """Called after a new customer was committed.

    :param customer: the customer as the API shows it (a dict; a copy, so
        changing it changes nothing).
    :param context: who acted.
    """


@hookspec
def customer_before_update(customer, data, context):
    """Called before a customer is updated, inside the transaction.

    Not called for an empty update (``{}``), which writes nothing.

    :param customer: the customer as it is now, as the API shows it.
    :param data: the validated changes, which the hook may change in place;
        a new password is not in it (it was checked by ``password_rules``).
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the update.
    """


@hookspec
def customer_after_update(customer, changes, context):
    """Called after a customer update was committed.

    :param customer: the customer as it is now, as the API shows it.
    :param changes: the names of the fields that changed (``"password"``
        included when it did).
    :param context: who acted.
    """


@hookspec
def customer_before_delete(customer, context):
    """Called before a customer, its addresses and its reset tokens are deleted,
    inside the transaction.

    :param customer: the customer as the API shows it.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the deletion (e.g. ``Forbidden``):
        the client gets that status and message and nothing is deleted.
    """


@hookspec
def customer_after_delete(customer, context):
    """Called after a customer was deleted and the deletion committed.

    :param customer: the customer as it was, as the API showed it.
    :param context: who acted.
    """


# --- customer addresses ----------------------------------------------------------


@hookspec
def address_rules():
    """Return extra rules every address must pass, on create and on update.

    Called each time an address is about to be written, with the address as
    it will be stored (on update: the current address merged with the change).
    The built-in rules (required fields, lengths, ISO country code) run first.

    :return: a callable or a list of callables ``rule(address: dict) -> None |
        str | dict``; ``address`` has the fields of the address object
        (``country`` upper case). Return None to accept; a message to refuse
        the whole address; or ``{field: message}`` to refuse naming fields.
        The client gets a 400.
    """


@hookspec
def address_before_create(customer, data, context):
    """Called before an address is inserted, inside the transaction.

    :param customer: the owner, as the API shows it.
    :param data: the validated address fields (``is_default`` resolved to a
        boolean), which the hook may change in place; changed values are not
        validated again.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse with that status and message.
    """


@hookspec
def address_after_create(address, context):
    """Called after a new address was committed.

    :param address: the address as the API shows it (a copy).
    :param context: who acted.
    """


@hookspec
def address_before_update(address, data, context):
    """Called before an address is updated, inside the transaction.

    Not called for an empty update (``{}``), which writes nothing.

    :param address: the address as it is now, as the API shows it.
    :param data: the validated changes, which the hook may change in place.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the update.
    """


@hookspec
def address_after_update(address, changes, context):
    """Called after an address update was committed.

    :param address: the address as it is now.
    :param changes: the names of the fields that changed.
    :param context: who acted.
    """


@hookspec
def address_before_delete(address, context):
    """Called before an address is deleted, inside the transaction.

    :param address: the address as the API shows it.
    :param context: who is acting.
    :raise app.errors.AppError: to refuse the deletion.
    """


@hookspec
def address_after_delete(address, context):
    """Called after an address deletion was committed.

    :param address: the address as it was.
    :param context: who acted.
    """


# --- passwords ------------------------------------------------------------------------


@hookspec
def password_after_reset_request(customer, context):
    """Called after a reset link was made for an active customer and emailed.

    Runs in the process that delivers events (not in the request, whose answer
    never depends on whether the account exists), after the token was stored
    and the email accepted by the mail server.

    :param customer: the customer as the API shows it.
    :param context: a :class:`app.plugins.HookContext` with no actor.
    """


@hookspec
def password_before_update(customer, context):
    """Called before a customer's password is replaced through a reset token,
    inside the transaction, after the token and the password rules were checked.

    :param customer: the customer as the API shows it.
    :param context: who is acting (an anonymous holder of the token).
    :raise app.errors.AppError: to refuse; the token stays usable.
    """


@hookspec
def password_after_update(customer, context):
    """Called after a password reset was committed (every reset token of the
    customer is void, and its older access and refresh tokens are refused).

    :param customer: the customer as the API shows it.
    :param context: who acted.
    """
