"""Email addresses: one normalised form, checked with email-validator.

The service stores an address as email-validator normalises it: the domain
in lower case (internationalised domains in their Unicode form, NFC), the part
before the ``@`` as given. Internationalised domains are accepted and mailed
in their ASCII (IDNA) form. A part before the ``@`` outside ASCII is refused
with a 400: such an address can only be mailed by servers that speak SMTPUTF8,
and comparing it case-insensitively would depend on the database's locale
(docs/api.md, "Email addresses").
"""

from __future__ import annotations

from functools import lru_cache

import email_validator

INVALID = "Not a valid email address."
NOT_ASCII = (
    "The part before the @ must be in ASCII characters: internationalised "
    "addresses cannot be mailed by this service."
)


class InvalidEmail(ValueError):
    """The text is not an address the service accepts; ``str()`` says why."""


@lru_cache(maxsize=4096)
def normalize_email(text: str) -> str:
    """The normalised form of ``text`` (surrounding white space removed), or
    :class:`InvalidEmail`."""
    try:
        result = email_validator.validate_email(
            text.strip(), check_deliverability=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as error:
        if "before the @-sign" in str(error) and not text.isascii():
            raise InvalidEmail(NOT_ASCII) from None
        raise InvalidEmail(INVALID) from None
    return result.normalized


def lookup_key(text: str) -> str:
    """What an address is looked up by: its normalised form when it is valid
    (the stored form), else the text as given, lower-cased either way."""
    try:
        return normalize_email(text).lower()
    except InvalidEmail:
        return text.strip().lower()


def mailbox(address: str) -> str:
    """The ASCII form to hand to the mail server (IDNA domain), or
    :class:`InvalidEmail` when the address cannot be mailed."""
    try:
        result = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError as error:
        raise InvalidEmail(str(error)) from None
    return result.ascii_email
