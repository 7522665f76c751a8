"""The files of ``flask customers export`` and ``import``: JSON Lines, our CSV,
and Shopify's customer CSV export (docs/operations.md, "Exporting and
importing customers").

Readers turn each record of a file into a :class:`Record`: the line it starts
on and the customer in the import's terms (``email``, ``full_name``,
``status``, ``group_id``, ``group_uuid``, ``uuid``, ``created_at``,
``password_hash``, ``meta_data``, ``meta_patch``, ``addresses`` and plugin
fields), or the problem that kept it from being read. Nothing here validates
a value: :mod:`plugins.customer.bulk` does, with the API's schemas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import pycountry

FORMATS = ("jsonl", "csv", "shopify")

# Our CSV: one row per customer. Values that are not text (addresses, the
# group, meta_data, plugin fields) are JSON in their cell.
CSV_COLUMNS = (
    "customer_id",
    "uuid",
    "email",
    "full_name",
    "status",
    "group_id",
    "group_uuid",
    "group_name",
    "created_at",
    "updated_at",
)
CSV_JSON_COLUMNS = ("addresses", "meta_data")
HASH_COLUMN = "password_hash"

# Keys of an exported customer the import reads (the rest, such as
# customer_id, updated_at or what other plugins add to a read, is ignored).
OWN_INPUT = ("email", "full_name", "status", "group_id")


@dataclass
class Record:
    """One customer of an import file."""

    line: int
    data: dict = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)


# --- detection -------------------------------------------------------------------------


def detect_format(path: str, head: str) -> str:
    """The format of a file from its name and first line: ``.jsonl``/``.ndjson``
    or a first line that is a JSON object is JSON Lines; a CSV whose header
    has ``First Name`` and ``Email`` is Shopify's; any other CSV is ours."""
    lowered = path.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".jsonl.txt")) or head.lstrip().startswith("{"):
        return "jsonl"
    header = {name.strip().lower() for name in next(csv.reader([head]), [])}
    if {"first name", "email"} <= header:
        return "shopify"
    return "csv"


# --- JSON Lines ----------------------------------------------------------------------


def _from_export(obj: dict, line: int, plugin_fields: Iterable[str]) -> Record:
    """A record from a customer as the export writes it (JSON Lines, or a CSV
    row whose JSON cells were decoded)."""
    record = Record(line)
    data = record.data
    for name in (*OWN_INPUT, *plugin_fields):
        if name in obj and obj[name] is not None:
            data[name] = obj[name]
        elif name in obj and name == "full_name":
            data[name] = None  # the API refuses it: say so, rather than skip it
    for name in ("uuid", "created_at", "meta_data", "addresses"):
        if obj.get(name) is not None:
            data[name] = obj[name]
    group = obj.get("group")
    if isinstance(group, dict) and group.get("uuid"):
        data["group_uuid"] = group["uuid"]
    elif obj.get("group_uuid"):
        data["group_uuid"] = obj["group_uuid"]
    # EverShop's own table calls the hash "password"; only hashes are taken.
    for name in (HASH_COLUMN, "password"):
        if obj.get(name):
            data["password_hash"] = obj[name]
            data["password_column"] = name
            break
    return record


def read_jsonl(stream: IO[str], plugin_fields: Iterable[str] = ()) -> Iterator[Record]:
    plugin_fields = tuple(plugin_fields)
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as error:
            yield Record(number, problems=[("line", f"Not valid JSON: {error.msg}.")])
            continue
        if not isinstance(obj, dict):
            yield Record(number, problems=[("line", "Not a JSON object.")])
            continue
        yield _from_export(obj, number, plugin_fields)


def count_records(stream: IO[str], fmt: str) -> int:
    """How many records a file holds (for the progress bar), read quickly."""
    if fmt == "jsonl":
        return sum(1 for text in stream if text.strip())
    rows = csv.reader(stream)
    next(rows, None)  # the header
    return sum(1 for row in rows if any(cell.strip() for cell in row))


def skip_records(records: Iterator[Record], count: int) -> None:
    """Read past the first ``count`` records (a resumed import)."""
    for _ in range(count):
        if next(records, None) is None:
            return


# --- our CSV ---------------------------------------------------------------------------


def _csv_rows(stream: IO[str]) -> Iterator[tuple[int, dict]]:
    """``(first line, {column: cell})`` for each non-empty row after the header."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    names = [name.strip() for name in header]
    previous_end = reader.line_num
    for row in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        yield start, dict(zip(names, row, strict=False))


def read_csv(stream: IO[str], plugin_fields: Iterable[str] = ()) -> Iterator[Record]:
    plugin_fields = tuple(plugin_fields)
    for line, row in _csv_rows(stream):
        obj: dict = {}
        problems = []
        for name, cell in row.items():
            if cell == "":
                continue
            if name in CSV_JSON_COLUMNS or name in plugin_fields:
                try:
                    obj[name] = json.loads(cell)
                except ValueError:
                    problems.append((name, "Not valid JSON."))
            else:
                obj[name] = cell
        record = _from_export(obj, line, plugin_fields)
        record.problems += problems
        yield record


def csv_header(plugin_fields: Iterable[str], with_hashes: bool) -> list[str]:
    return [
        *CSV_COLUMNS,
        *plugin_fields,
        *CSV_JSON_COLUMNS,
        *((HASH_COLUMN,) if with_hashes else ()),
    ]


def csv_row(customer: dict, header: list[str], plugin_fields: Iterable[str]) -> list[str]:
    """One exported customer as our CSV's cells."""
    plugin_fields = set(plugin_fields)
    group = customer.get("group") or {}
    values = dict(customer, group_uuid=group.get("uuid"), group_name=group.get("name"))
    cells = []
    for name in header:
        value = values.get(name)
        if name in CSV_JSON_COLUMNS or name in plugin_fields:
            cells.append("" if value is None else json.dumps(value, ensure_ascii=False))
        else:
            cells.append("" if value is None else str(value))
    return cells


# --- Shopify's customer export -----------------------------------------------------------

# Each of our fields, and the headers Shopify has used for it: the customer
# export (``Default Address …``) and the import template and older exports
# (``Address1``, ``Accepts Marketing``). Headers are matched ignoring case and
# surrounding spaces.
SHOPIFY_COLUMNS = {
    "customer_id": ("Customer ID", "ID"),
    "first_name": ("First Name",),
    "last_name": ("Last Name",),
    "email": ("Email",),
    "accepts_email_marketing": ("Accepts Email Marketing", "Accepts Marketing"),
    "company": ("Default Address Company", "Company"),
    "address_1": ("Default Address Address1", "Address1"),
    "address_2": ("Default Address Address2", "Address2"),
    "city": ("Default Address City", "City"),
    "province_code": ("Default Address Province Code", "Province Code"),
    "province": ("Default Address Province", "Province"),
    "country_code": ("Default Address Country Code", "Country Code"),
    "country": ("Default Address Country", "Country"),
    "postcode": ("Default Address Zip", "Zip"),
    "address_phone": ("Default Address Phone",),
    "phone": ("Phone",),
    "accepts_sms_marketing": ("Accepts SMS Marketing",),
    "total_spent": ("Total Spent",),
    "total_orders": ("Total Orders",),
    "note": ("Note",),
    "tax_exempt": ("Tax Exempt",),
    "tags": ("Tags",),
}
SHOPIFY_ADDRESS = ("company", "address_1", "address_2", "city", "province_code", "province")
SHOPIFY_ADDRESS += ("country_code", "country", "postcode", "address_phone")


def _shopify_names(row: dict) -> dict:
    by_header = {name.strip().lower(): value.strip() for name, value in row.items() if name}
    found = {}
    for ours, headers in SHOPIFY_COLUMNS.items():
        for header in headers:
            value = by_header.get(header.lower())
            if value:
                found[ours] = value
                break
    return found


def _yes(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in {"yes", "true", "1", "y"}


def _country_code(values: dict) -> str | None:
    """The ISO code, from ``Country Code``, else from the country's name."""
    if values.get("country_code"):
        return values["country_code"]
    name = values.get("country")
    if not name:
        return None
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        return name  # refused by the address rules, naming the value's field


def shopify_record(line: int, row: dict) -> Record:
    """A Shopify customer row as an import record: the name from First and
    Last Name, the default address (when it has any field), and what else
    Shopify knows under ``meta_data["shopify"]``."""
    values = _shopify_names(row)
    record = Record(line)
    data = record.data
    data["email"] = values.get("email", "")
    name = " ".join(part for part in (values.get("first_name"), values.get("last_name")) if part)
    data["full_name"] = name
    if any(values.get(key) for key in SHOPIFY_ADDRESS):
        address = {
            "full_name": name,
            "telephone": values.get("address_phone") or values.get("phone"),
            "address_1": values.get("address_1"),
            "address_2": values.get("address_2"),
            "city": values.get("city"),
            "province": values.get("province_code") or values.get("province"),
            "country": _country_code(values),
            "postcode": values.get("postcode"),
            "is_default": True,
        }
        data["addresses"] = [{k: v for k, v in address.items() if v is not None}]
    shopify = {
        "customer_id": values.get("customer_id"),
        "phone": values.get("phone"),
        "company": values.get("company"),
        "accepts_email_marketing": _yes(values.get("accepts_email_marketing")),
        "accepts_sms_marketing": _yes(values.get("accepts_sms_marketing")),
        "tax_exempt": _yes(values.get("tax_exempt")),
        "tags": [t.strip() for t in values.get("tags", "").split(",") if t.strip()],
        "note": values.get("note"),
    }
    data["meta_patch"] = {"shopify": {k: v for k, v in shopify.items() if v not in (None, [])}}
    return record


def read_shopify(stream: IO[str], plugin_fields: Iterable[str] = ()) -> Iterator[Record]:
    for line, row in _csv_rows(stream):
        yield shopify_record(line, row)


READERS = {"jsonl": read_jsonl, "csv": read_csv, "shopify": read_shopify}
