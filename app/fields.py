"""marshmallow fields every plugin's schemas use."""

from __future__ import annotations

from marshmallow import fields


class Trimmed(fields.String):
    """A string with surrounding white space removed (CONTRACT §1).

    Passwords and tokens use plain ``fields.String``: they are never altered.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        return result.strip()


class LenientInteger(fields.Integer):
    """A whole number sent as a JSON number or as a string of digits.

    Booleans and fractions are refused (``true`` is not ``1`` here).
    """

    def __init__(self, *, choices: tuple[int, ...] | None = None, **kwargs):
        super().__init__(strict=True, **kwargs)
        self.choices = choices

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if self.choices is not None and number not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise self.make_error("invalid_choice", allowed=allowed)
        return number

    default_error_messages = {
        "invalid_choice": "Must be one of: {allowed}.",
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
