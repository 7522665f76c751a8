"""``flask customers export`` and ``flask customers import`` (docs/operations.md,
"Exporting and importing customers"), on SQLite and PostgreSQL, through
Flask's command runner. The real ``flask`` process (signals, resuming, the
progress bar on a terminal) is in tests/test_customers_bulk_process.py."""

from __future__ import annotations

import csv
import io
import json
import re

import bcrypt
import sqlalchemy as sa

from app.db import db
from app.passwords import UNUSABLE_PASSWORD
from tests.helpers import event_names
from tests.smtp import smtp_server  # noqa: F401 (a fixture)

EMAIL = "john.smith@example.com"
PASSWORD = "customer-pass-1"
ADDRESS = {
    "full_name": "John Smith",
    "address_1": "123 Main St",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
# EverShop's bcryptjs writes $2a$ hashes; this one is of "evershop-pass-1".
EVERSHOP_PASSWORD = "evershop-pass-1"
EVERSHOP_HASH = bcrypt.hashpw(EVERSHOP_PASSWORD.encode(), bcrypt.gensalt(4, prefix=b"2a")).decode()
SHOPIFY_HEADER = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,"
    "Tax Exempt,Tags"
)
# The import template and older exports name the address columns without
# "Default Address" and call marketing consent "Accepts Marketing".
SHOPIFY_TEMPLATE_HEADER = (
    "First Name,Last Name,Email,Accepts Marketing,Company,Address1,Address2,City,Province,"
    "Province Code,Country,Country Code,Zip,Phone,Total Spent,Total Orders,Tags,Note,Tax Exempt"
)


def invoke(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def customers(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT customer_id, uuid, email, full_name, status, group_id, password,"
                " meta_data, token_version FROM customer ORDER BY customer_id"
            )
        ).all()
        db.session.remove()
    found = [row._asdict() for row in rows]
    for row in found:
        if isinstance(row["meta_data"], str):
            row["meta_data"] = json.loads(row["meta_data"])
        row["uuid"] = str(row["uuid"]).replace("-", "")
    return found


def addresses(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT customer_id, full_name, telephone, address_1, address_2, city, province,"
                " country, postcode, is_default FROM customer_address ORDER BY customer_address_id"
            )
        ).all()
        db.session.remove()
    return [row._asdict() | {"is_default": bool(row.is_default)} for row in rows]


def login(client, email, password):
    return client.post("/api/customer/tokens", json={"email": email, "password": password})


def export(app, *args) -> list[dict]:
    result = invoke(app, "customers", "export", *args)
    assert result.exit_code == 0, (result.output, result.stderr)
    return [json.loads(line) for line in result.stdout.splitlines()]


# --- export ------------------------------------------------------------------------------


def test_export_writes_each_customer_as_a_full_read_with_group_and_meta_data(app, auth, client):
    customer = auth.create_customer()
    headers = auth.admin_headers()
    client.post(f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=headers)
    read = client.get(f"/api/customers/{customer['uuid']}", headers=headers).json["data"]

    (line,) = export(app)

    for address in read["addresses"]:
        del address["links"]
    group = line.pop("group")
    assert line == read | {"meta_data": {}}
    assert (group["id"], group["name"]) == (1, "Default")
    assert re.fullmatch(r"[0-9a-f-]{36}", group["uuid"])


def test_export_leaves_password_hashes_out_unless_asked(app, auth):
    auth.create_customer()

    result = invoke(app, "customers", "export")

    assert result.exit_code == 0
    assert "password" not in result.stdout
    assert "$2b$" not in result.stdout


def test_export_with_password_hashes_includes_the_bcrypt_hash(app, auth):
    auth.create_customer()

    (line,) = export(app, "--with-password-hashes")

    assert line["password_hash"] == customers(app)[0]["password"]
    assert bcrypt.checkpw(PASSWORD.encode(), line["password_hash"].encode())


def test_export_since_keeps_customers_updated_at_or_after_the_date(app, auth):
    auth.create_customer()
    auth.create_customer(email="late@example.com")
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE customer SET updated_at = :old WHERE email = :email"),
                {"old": "2020-01-01 00:00:00", "email": EMAIL},
            )
        db.session.remove()

    lines = export(app, "--since", "2021-06-01")

    assert [line["email"] for line in lines] == ["late@example.com"]


def test_export_reads_customers_in_chunks_oldest_first(app, auth):
    from plugins.customer.bulk import export_customers

    for number in range(5):
        auth.create_customer(email=f"c{number}@example.com")

    with app.app_context():
        chunks = [[c["email"] for c in chunk] for chunk in export_customers(chunk=2)]

    assert chunks == [
        ["c0@example.com", "c1@example.com"],
        ["c2@example.com", "c3@example.com"],
        ["c4@example.com"],
    ]


def test_export_csv_writes_one_row_per_customer_with_addresses_as_json(app, auth, client):
    customer = auth.create_customer()
    client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=auth.admin_headers()
    )

    result = invoke(app, "customers", "export", "--format", "csv")

    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(row) == [
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
        # the built-in verification plugin's fields, as in every representation
        "email_verified",
        "pending_email",
        "addresses",
        "meta_data",
    ]
    assert (row["uuid"], row["email"], row["status"], row["group_name"]) == (
        customer["uuid"],
        EMAIL,
        "1",
        "Default",
    )
    (address,) = json.loads(row["addresses"])
    assert {key: address[key] for key in ADDRESS} == ADDRESS
    assert json.loads(row["meta_data"]) == {}
    assert result.stderr == "exported 1 customer\n"


def test_export_writes_to_a_file(app, auth, tmp_path):
    auth.create_customer()
    target = tmp_path / "out.jsonl"

    result = invoke(app, "customers", "export", "--output", str(target))

    assert (result.exit_code, result.stdout) == (0, "")
    assert [json.loads(line)["email"] for line in target.read_text().splitlines()] == [EMAIL]


# --- import: creating --------------------------------------------------------------------


def test_import_creates_customers_with_addresses_and_the_apis_events(app, tmp_path, events):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"email": "Ann@Example.COM", "full_name": " Ann ", "addresses": [ADDRESS]},
            {"email": "bob@example.com", "full_name": "Bob", "status": 0},
        ],
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "in.jsonl: 2 records: 2 created, 0 updated, 0 unchanged, 0 rejected;"
        " addresses: 1 created, 0 updated; 0 invited\n"
    )
    rows = customers(app)
    assert [(r["email"], r["full_name"], r["status"], r["group_id"]) for r in rows] == [
        ("Ann@example.com", "Ann", 1, 1),
        ("bob@example.com", "Bob", 0, 1),
    ]
    assert [a["customer_id"] for a in addresses(app)] == [rows[0]["customer_id"]]
    assert addresses(app)[0]["is_default"] is True
    assert event_names(events) == ["customer_registered", "account_created", "address_created"]
    registered = events()[0][1]
    assert registered["email"] == "Ann@example.com"
    assert "password" not in json.dumps(registered)


def test_import_without_a_hash_leaves_the_password_unusable(app, client, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "John"}])

    invoke(app, "customers", "import", source)

    assert customers(app)[0]["password"] == UNUSABLE_PASSWORD
    refused = login(client, EMAIL, UNUSABLE_PASSWORD)
    assert refused.status_code == 401
    assert refused.json["error"]["message"] == "Invalid email or password"


def test_import_keeps_an_evershop_bcrypt_hash(app, client, tmp_path):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"email": EMAIL, "full_name": "John", "password_hash": EVERSHOP_HASH}],
    )

    invoke(app, "customers", "import", source)

    assert customers(app)[0]["password"] == EVERSHOP_HASH
    assert login(client, EMAIL, EVERSHOP_PASSWORD).status_code == 200


def test_import_refuses_a_password_that_is_not_a_hash(app, tmp_path, events):
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "John", "password_hash": "secret"}]
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        "line 1: password_hash: Not a bcrypt hash ($2a$, $2b$ or $2y$):"
        " only hashes are imported, never passwords."
    )
    assert "secret" not in result.stderr + result.stdout
    assert customers(app) == []
    assert events() == []


# --- import: the API's rules ---------------------------------------------------------------


def test_import_rejects_each_bad_record_by_line_and_imports_the_rest(app, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"email": "good@example.com", "full_name": "Good"})
        + "\n\n"
        + json.dumps({"email": "not-an-email", "full_name": "Bad"})
        + "\n"
        + "{oops\n"
        + json.dumps({"email": "c@example.com", "full_name": "C", "addresses": [{"city": "X"}]})
        + "\n"
    )
    rejects = tmp_path / "rejects.txt"

    result = invoke(app, "customers", "import", str(source), "--rejects", str(rejects))

    assert result.exit_code == 3
    expected = [
        "line 3: email: Not a valid email address.",
        "line 4: line: Not valid JSON: Expecting property name enclosed in double quotes.",
        "line 5: addresses[0].address_1: Missing data for required field.",
        "line 5: addresses[0].country: Missing data for required field.",
        "line 5: addresses[0].full_name: Missing data for required field.",
    ]
    rejected = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert sorted(rejected) == expected
    assert sorted(rejects.read_text().splitlines()) == expected
    assert [row["email"] for row in customers(app)] == ["good@example.com"]
    assert "1 created, 0 updated, 0 unchanged, 3 rejected" in result.stdout


def test_import_rejects_what_the_api_rejects_with_the_same_messages(app, auth, client, tmp_path):
    bad = {"email": "x@example.com", "full_name": "", "status": "2", "group_id": True}
    answer = client.post(
        "/api/customers", json=bad | {"password": PASSWORD}, headers=auth.admin_headers()
    )
    source = write_jsonl(tmp_path / "in.jsonl", [bad])

    result = invoke(app, "customers", "import", source)

    api = sorted(f"line 1: {e['field']}: {e['message']}" for e in answer.json["error"]["errors"])
    assert answer.status_code == 400
    assert sorted(line for line in result.stderr.splitlines() if line.startswith("line")) == api
    assert customers(app) == []


def test_import_rejects_an_unknown_group(app, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "J", "group_id": 9}])

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 3
    assert "line 1: group_id: No customer group has this id." in result.stderr
    assert customers(app) == []


def test_import_applies_the_plugins_address_rules(app, register_plugin, tmp_path):
    from app.plugins import hookimpl

    class PostcodeForUs:
        @hookimpl
        def address_rules(self):
            def rule(address):
                if address["country"] == "US" and not address["postcode"]:
                    return {"postcode": "A postcode is required for US addresses."}
                return None

            return [rule]

    register_plugin(PostcodeForUs())
    no_postcode = {k: v for k, v in ADDRESS.items() if k != "postcode"}
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "J", "addresses": [no_postcode]}]
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 3
    assert (
        "line 1: addresses[0].postcode: A postcode is required for US addresses." in result.stderr
    )
    assert customers(app) == []


# --- import: upserting ------------------------------------------------------------------


def test_import_updates_the_customer_with_the_same_email_in_any_case(app, auth, tmp_path, events):
    existing = auth.create_customer()
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"email": "JOHN.SMITH@example.com", "full_name": "John Q"}]
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert "0 created, 1 updated, 0 unchanged" in result.stdout
    (row,) = customers(app)
    assert (row["uuid"], row["email"], row["full_name"]) == (
        existing["uuid"].replace("-", ""),
        "JOHN.SMITH@example.com",
        "John Q",
    )
    assert event_names(events) == ["customer_registered", "customer_updated"]
    assert events()[-1][1]["full_name"] == "John Q"


def test_import_keeps_the_password_of_an_existing_customer_without_a_hash(
    app, auth, client, tmp_path
):
    auth.create_customer()
    source = write_jsonl(tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "John Q"}])

    invoke(app, "customers", "import", source)

    assert login(client, EMAIL, PASSWORD).status_code == 200


def test_import_of_a_new_hash_is_a_password_change_that_revokes_tokens(
    app, auth, client, tmp_path, events
):
    auth.create_customer()
    headers = auth.customer_headers()
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"email": EMAIL, "full_name": "John Smith", "password_hash": EVERSHOP_HASH}],
    )

    invoke(app, "customers", "import", source)

    assert client.get("/api/customers/me", headers=headers).status_code == 401
    assert login(client, EMAIL, EVERSHOP_PASSWORD).status_code == 200
    assert event_names(events)[-2:] == ["customer_updated", "customer_password_changed"]


def test_import_run_twice_writes_nothing_the_second_time(app, tmp_path, events):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"email": f"c{n}@example.com", "full_name": f"C {n}", "addresses": [ADDRESS]}
            for n in range(3)
        ],
    )
    invoke(app, "customers", "import", source)
    before = (customers(app), addresses(app), events())

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "in.jsonl: 3 records: 0 created, 0 updated, 3 unchanged, 0 rejected;"
        " addresses: 0 created, 0 updated; 0 invited\n"
    )
    assert (customers(app), addresses(app), events()) == before


def test_import_merges_records_of_one_email_in_a_file(app, tmp_path):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"email": EMAIL, "full_name": "First"},
            {"email": "John.Smith@example.com", "full_name": "Second", "status": 0},
        ],
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert [(r["full_name"], r["status"]) for r in customers(app)] == [("Second", 0)]


def test_import_addresses_of_an_existing_customer_are_merged_not_duplicated(
    app, auth, client, tmp_path
):
    customer = auth.create_customer()
    client.post(
        f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=auth.admin_headers()
    )
    other = ADDRESS | {"address_1": "9 Elm St", "is_default": True}
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"email": EMAIL, "full_name": "John Smith", "addresses": [ADDRESS, other]}],
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert "addresses: 1 created, 1 updated" in result.stdout
    assert [(a["address_1"], a["is_default"]) for a in addresses(app)] == [
        ("123 Main St", False),
        ("9 Elm St", True),
    ]


# --- import: round trips ---------------------------------------------------------------------


def round_trip(make_app, app, auth, client, tmp_path, fmt):
    customer = auth.create_customer(status=0)
    headers = auth.admin_headers()
    client.post(f"/api/customers/{customer['uuid']}/addresses", json=ADDRESS, headers=headers)
    target = tmp_path / f"all.{fmt}"
    result = invoke(
        app, "customers", "export", "--format", fmt, "--with-password-hashes", "-o", str(target)
    )
    assert result.exit_code == 0, result.stderr
    before = (customers(app), addresses(app))
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM customer"))
        db.session.remove()
    return target, before


def test_import_of_a_jsonl_export_restores_customers_as_they_were(
    make_app, app, auth, client, tmp_path
):
    target, (before, before_addresses) = round_trip(make_app, app, auth, client, tmp_path, "jsonl")

    result = invoke(app, "customers", "import", str(target))

    assert result.exit_code == 0, result.stderr
    after = customers(app)
    ignore = {"customer_id"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in after] == [
        {k: v for k, v in r.items() if k not in ignore} for r in before
    ]
    assert [{k: v for k, v in a.items() if k != "customer_id"} for a in addresses(app)] == [
        {k: v for k, v in a.items() if k != "customer_id"} for a in before_addresses
    ]


def test_import_of_a_csv_export_restores_customers_as_they_were(
    make_app, app, auth, client, tmp_path
):
    target, (before, before_addresses) = round_trip(make_app, app, auth, client, tmp_path, "csv")

    result = invoke(app, "customers", "import", str(target))

    assert result.exit_code == 0, result.stderr
    ignore = {"customer_id"}
    assert [{k: v for k, v in r.items() if k not in ignore} for r in customers(app)] == [
        {k: v for k, v in r.items() if k not in ignore} for r in before
    ]
    assert len(addresses(app)) == len(before_addresses) == 1


# --- import: Shopify ---------------------------------------------------------------------


def test_import_reads_a_shopify_export_of_customers(app, tmp_path):
    source = tmp_path / "customers_export.csv"
    source.write_text(
        SHOPIFY_HEADER
        + "\n"
        + "'7001,Jane,Doe,jane@example.com,yes,Acme,1 Rue,,Paris,,FR,75001,+33 1 00,"
        + '+33 6 00,no,10.00,1,"Likes ""tea""",no,"vip, newsletter"\n'
    )

    result = invoke(app, "customers", "import", str(source))

    assert result.exit_code == 0, result.stderr
    (row,) = customers(app)
    assert (row["email"], row["full_name"], row["password"]) == (
        "jane@example.com",
        "Jane Doe",
        UNUSABLE_PASSWORD,
    )
    assert row["meta_data"] == {
        "shopify": {
            "customer_id": "'7001",
            "phone": "+33 6 00",
            "company": "Acme",
            "accepts_email_marketing": True,
            "accepts_sms_marketing": False,
            "tax_exempt": False,
            "tags": ["vip", "newsletter"],
            "note": 'Likes "tea"',
        }
    }
    (address,) = addresses(app)
    assert {k: address[k] for k in ("full_name", "telephone", "address_1", "city", "country")} == {
        "full_name": "Jane Doe",
        "telephone": "+33 1 00",
        "address_1": "1 Rue",
        "city": "Paris",
        "country": "FR",
    }
    assert (address["postcode"], address["is_default"]) == ("75001", True)


def test_import_reads_shopifys_template_headers(app, tmp_path):
    source = tmp_path / "shop.csv"
    source.write_text(
        SHOPIFY_TEMPLATE_HEADER
        + "\n"
        + "John,Smith,john.smith@example.com,no,,123 Main St,,New York,New York,NY,"
        + "United States,US,10001,555-0100,0,0,,,no\n"
    )

    result = invoke(app, "customers", "import", str(source), "--format", "shopify")

    assert result.exit_code == 0, result.stderr
    assert customers(app)[0]["full_name"] == "John Smith"
    (address,) = addresses(app)
    assert (address["province"], address["country"], address["telephone"]) == (
        "NY",
        "US",
        "555-0100",
    )


def test_import_rejects_a_shopify_customer_without_a_name(app, tmp_path):
    source = tmp_path / "customers_export.csv"
    source.write_text(SHOPIFY_HEADER + "\n" + ",,,anon@example.com" + "," * 16 + "\n")

    result = invoke(app, "customers", "import", str(source))

    assert result.exit_code == 3
    assert "line 2: full_name: Length must be between 1 and 255." in result.stderr
    assert customers(app) == []


# --- import: --dry-run and --invite --------------------------------------------------------


def test_import_dry_run_reports_and_writes_nothing(app, auth, tmp_path, events):
    auth.create_customer()
    before = (customers(app), events())
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"email": EMAIL, "full_name": "Changed"},
            {"email": "new@example.com", "full_name": "New", "addresses": [ADDRESS]},
            {"email": "bad", "full_name": "Bad"},
        ],
    )

    result = invoke(app, "customers", "import", source, "--dry-run")

    assert result.exit_code == 3
    assert result.stdout == (
        "in.jsonl: 3 records: 1 would create, 1 would update, 0 unchanged, 1 rejected"
        " (dry run: nothing written)\n"
    )
    assert "line 3: email: Not a valid email address." in result.stderr
    assert (customers(app), events(), addresses(app)) == (*before, [])
    assert not (tmp_path / "in.jsonl.import-state.json").exists()


def test_import_invite_emails_each_new_customer_a_reset_link(
    make_app,
    smtp_server,  # noqa: F811
    tmp_path,
):
    app = make_app(MAIL_SERVER=smtp_server.host, MAIL_PORT=smtp_server.port)
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"email": "new@example.com", "full_name": "New"},
            {"email": "kept@example.com", "full_name": "Kept", "password_hash": EVERSHOP_HASH},
            {"email": "off@example.com", "full_name": "Off", "status": 0},
        ],
    )

    result = invoke(app, "customers", "import", source, "--invite")
    delivered = invoke(app, "events", "run", "--once")

    assert result.exit_code == 0, result.stderr
    assert "; 1 invited" in result.stdout
    assert delivered.exit_code == 0, delivered.output
    assert [message.rcpt_tos for message in smtp_server.messages] == [["new@example.com"]]
    link = re.search(r"/reset-password\?token=(\S+)", smtp_server.messages[0].part("plain"))
    client = app.test_client()
    answer = client.post(
        "/api/customers/password", json={"token": link.group(1), "password": "chosen-pass-1"}
    )
    assert answer.status_code == 200, answer.json
    assert login(client, "new@example.com", "chosen-pass-1").status_code == 200


def test_import_resumes_from_its_checkpoint_without_duplicates(app, tmp_path, events):
    source = tmp_path / "in.jsonl"
    write_jsonl(
        source,
        [
            {"email": f"c{n}@example.com", "full_name": f"C {n}", "addresses": [ADDRESS]}
            for n in range(5)
        ],
    )
    # As an interrupted run leaves it: the first two records committed.
    invoke(
        app,
        "customers",
        "import",
        write_jsonl(
            tmp_path / "head.jsonl",
            [
                {"email": f"c{n}@example.com", "full_name": f"C {n}", "addresses": [ADDRESS]}
                for n in range(2)
            ],
        ),
    )
    from plugins.customer.bulk_cli import Checkpoint

    checkpoint = Checkpoint(tmp_path / "in.jsonl.import-state.json", source, "jsonl")
    checkpoint.records, checkpoint.line = 2, 2
    checkpoint.totals = {"created": 2, "addresses_created": 2}
    checkpoint.save()

    result = invoke(app, "customers", "import", str(source))

    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == "resuming in.jsonl after line 2 (2 records done)"
    assert "5 records: 5 created, 0 updated, 0 unchanged" in result.stdout
    assert len(customers(app)) == len(addresses(app)) == 5
    assert event_names(events).count("customer_registered") == 5
    assert not checkpoint.path.exists()


def test_import_refuses_a_checkpoint_made_for_another_file(app, tmp_path):
    source = tmp_path / "in.jsonl"
    write_jsonl(source, [{"email": EMAIL, "full_name": "J"}])
    from plugins.customer.bulk_cli import Checkpoint

    Checkpoint(tmp_path / "in.jsonl.import-state.json", source, "jsonl").save()
    write_jsonl(source, [{"email": EMAIL, "full_name": "Changed"}])

    result = invoke(app, "customers", "import", str(source))

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: in.jsonl is not the file in.jsonl.import-state.json was made for (it changed,"
        " or another format was asked); run again with --restart to import it from the start,"
        f" or remove {tmp_path / 'in.jsonl.import-state.json'}\n"
    )
    assert customers(app) == []


def test_import_progress_off_a_terminal_is_plain_lines(app, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "J"}])

    result = invoke(app, "customers", "import", source)

    assert re.fullmatch(
        r"progress: 1/1 records \(100%\), [0-9,]+ records/s, ETA 0 s\n", result.stderr
    ), result.stderr


def test_import_stops_in_one_line_at_a_batch_the_database_refuses(app, backend, tmp_path):
    # Given a database that refuses one customer's row (a trigger stands in
    # for a concurrent write of the same email)
    if backend == "sqlite":
        create = [
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON customer"
            " WHEN NEW.email = 'boom@example.com' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_boom"]
    else:
        create = [
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN IF NEW.email ="
            " 'boom@example.com' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
            " LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON customer"
            " FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        ]
        drop = ["DROP TRIGGER refuse_boom ON customer", "DROP FUNCTION refuse_boom()"]
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"email": "a@example.com", "full_name": "A"}, {"email": "b@example.com", "full_name": "B"}]
        + [{"email": "boom@example.com", "full_name": "Boom"}],
    )
    with app.app_context():
        with db.engine.begin() as conn:
            for statement in create:
                conn.execute(sa.text(statement))
        db.session.remove()
    try:
        result = invoke(app, "customers", "import", source, "--batch-size", "2")
    finally:
        with app.app_context():
            with db.engine.begin() as conn:
                for statement in drop:
                    conn.execute(sa.text(statement))
            db.session.remove()

    # Then the batches before it are in, the refused one is not, and the
    # checkpoint stays before it
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert error.startswith(
        "Error: the database refused the batch of lines 3-3 (nothing of it was written): "
    )
    assert "refused" in error[80:]
    assert error.endswith("; run the same command again to resume")
    assert [row["email"] for row in customers(app)] == ["a@example.com", "b@example.com"]
    saved = json.loads((tmp_path / "in.jsonl.import-state.json").read_text())
    assert (saved["records"], saved["line"]) == (2, 2)


def test_import_invite_without_the_password_plugin_refuses_to_run(make_app, tmp_path):
    app = make_app(PLUGINS_BLOCKED=["password"])
    source = write_jsonl(tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "J"}])

    result = invoke(app, "customers", "import", source, "--invite")

    assert result.exit_code == 1
    assert result.stderr == "Error: --invite needs the password plugin, which is not loaded\n"
    assert customers(app) == []


def test_import_without_the_address_plugin_leaves_addresses_out(make_app, tmp_path):
    app = make_app(PLUGINS_BLOCKED=["address"])
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"email": EMAIL, "full_name": "J", "addresses": [ADDRESS]}]
    )

    result = invoke(app, "customers", "import", source)

    assert result.exit_code == 0, result.stderr
    assert [row["email"] for row in customers(app)] == [EMAIL]
    assert addresses(app) == []
