"""marshmallow fields every plugin's schemas use."""

from __future__ import annotations

import re
import uuid

from marshmallow import ValidationError, fields

from app.emails import INVALID, InvalidEmail, normalize_email

# A whole number as text: ASCII digits only (int() would take any Unicode digit).
_DIGITS = re.compile(r"-?[0-9]{1,20}")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored or hashed, or None when it can: NUL
    characters (PostgreSQL refuses them) and unpaired surrogates (not
    encodable as UTF-8)."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no unpaired surrogates)."
    return None


class Trimmed(fields.String):
    """A string with surrounding white space removed (docs/api.md, "Wire format").

    Passwords and tokens use plain ``fields.String``: they are never altered.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        problem = unstorable(result)
        if problem:
            raise ValidationError(problem)
        return result.strip()


class TrimmedEmail(fields.String):
    """An email address, surrounding white space removed, validated and
    normalised by :func:`app.emails.normalize_email` (domain in lower case;
    a part before the ``@`` outside ASCII is refused)."""

    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = unstorable(text)
        if problem:
            raise ValidationError(problem)
        try:
            return normalize_email(text)
        except InvalidEmail as error:
            raise ValidationError(str(error)) from None


_UUID = re.compile(
    r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class UuidText(fields.String):
    """A uuid in the forms a path takes (dashed or 32 hex digits, any case,
    surrounding white space ignored), loaded as a :class:`uuid.UUID`."""

    default_error_messages = {"invalid_uuid": "Not a valid uuid."}

    def __init__(self, **kwargs):
        metadata = {"format": "uuid", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not _UUID.fullmatch(text):
            raise self.make_error("invalid_uuid")
        return uuid.UUID(text)


class LenientInteger(fields.Integer):
    """A whole number sent as a JSON number or as a string of ASCII digits,
    within the range of the integer columns (32-bit signed): anything else is
    a 400, never a database error. Booleans and fractions are refused
    (``true`` is not ``1`` here).
    """

    MIN = -(2**31)
    MAX = 2**31 - 1

    def __init__(self, *, choices: tuple[int, ...] | None = None, **kwargs):
        super().__init__(strict=True, **kwargs)
        self.choices = choices

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            value = int(value.strip())
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if not self.MIN <= number <= self.MAX:
            raise self.make_error("out_of_range", min=self.MIN, max=self.MAX)
        if self.choices is not None and number not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise self.make_error("invalid_choice", allowed=allowed)
        return number

    default_error_messages = {
        "invalid_choice": "Must be one of: {allowed}.",
        "out_of_range": "Must be between {min} and {max}.",
    }


class FlexibleBoolean(fields.Field):
    """``true``/``false``, ``0``/``1`` or ``"0"``/``"1"``, and nothing else."""

    default_error_messages = {"invalid": 'Must be true, false, 0, 1, "0" or "1".'}

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is bool:
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value in ("0", "1"):
            return value == "1"
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else bool(value)


TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


def timestamp(**kwargs) -> fields.String:
    """A response field for a timestamp as the API writes it (docs/api.md, "Wire format"):
    ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    metadata = {"pattern": TIMESTAMP_PATTERN, "example": "2023-02-07 14:18:05"}
    return fields.String(metadata=metadata, **kwargs)
