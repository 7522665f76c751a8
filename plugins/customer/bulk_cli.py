"""``flask customers export`` and ``flask customers import`` (docs/operations.md,
"Exporting and importing customers"): files, progress, checkpoints and
signals around :mod:`plugins.customer.bulk`."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.events import left_for_worker
from plugins.customer import bulk
from plugins.customer.bulk_formats import (
    FORMATS,
    READERS,
    count_records,
    csv_header,
    csv_row,
    detect_format,
    skip_records,
)
from plugins.customer.presenter import fields

# Exit statuses besides 0 (done), 1 (could not run) and 2 (usage).
EXIT_REJECTED = 3  # finished, but some records were rejected
EXIT_INTERRUPTED = 130  # stopped by SIGINT or SIGTERM; run again to resume
PLAIN_PROGRESS_EVERY = 5.0  # seconds between progress lines when not on a terminal


# --- export ----------------------------------------------------------------------------


@click.command("export")
@with_appcontext
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="Only customers updated at or after this moment (UTC), e.g. 2025-01-31.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--with-password-hashes",
    is_flag=True,
    help="SENSITIVE: include each customer's bcrypt hash (password_hash), so that an"
    " import elsewhere keeps the passwords. Keep such a file as you keep the database.",
)
def export_customers(fmt: str, since, output: str | None, with_password_hashes: bool) -> None:
    """Write every customer, with its addresses and group, as JSON Lines (one
    customer a line: the API's object plus addresses, group and meta_data)
    or as CSV (one row a customer; addresses, meta_data and plugin fields as
    JSON cells). Streams: memory does not grow with the number of customers.
    No password hash unless --with-password-hashes."""
    since = since.replace(tzinfo=UTC) if since is not None else None
    plugin_fields = [f.name for f in fields().fields]
    count = 0
    with click.open_file(output or "-", "w", encoding="utf-8", lazy=False) as stream:
        writer = header = None
        if fmt == "csv":
            writer = csv.writer(stream, lineterminator="\n")
            header = csv_header(plugin_fields, with_password_hashes)
            writer.writerow(header)
        for chunk in bulk.export_customers(since, with_password_hashes):
            for customer in chunk:
                if writer is not None:
                    writer.writerow(csv_row(customer, header, plugin_fields))
                else:
                    stream.write(json.dumps(customer, ensure_ascii=False) + "\n")
            count += len(chunk)
    click.echo(f"exported {count} customer{'s' if count != 1 else ''}", err=True)


# --- import: checkpoints ---------------------------------------------------------------


def _fingerprint(path: Path) -> dict:
    """What tells a file from a changed one: its size and the SHA-256 of its
    first megabyte."""
    with path.open("rb") as stream:
        head = hashlib.sha256(stream.read(1 << 20)).hexdigest()
    return {"size": path.stat().st_size, "head_sha256": head}


class Checkpoint:
    """How far an import of one file got: the records done (committed or
    rejected) and the totals so far, in a JSON file written after each
    batch commits (atomically: a new file renamed over the old)."""

    def __init__(self, path: Path, source: Path, fmt: str):
        self.path = path
        self.identity = {"file": source.name, "format": fmt, **_fingerprint(source)}
        self.records = 0
        self.line = 0
        self.totals: dict[str, int] = {}

    def load(self) -> bool:
        """Read the checkpoint of an interrupted import, if there is one."""
        if not self.path.exists():
            return False
        saved = json.loads(self.path.read_text())
        if {k: saved.get(k) for k in self.identity} != self.identity:
            raise click.ClickException(
                f"{self.identity['file']} is not the file {self.path.name} was made for"
                " (it changed, or another format was asked); run again with --restart"
                f" to import it from the start, or remove {self.path}"
            )
        self.records, self.line = saved["records"], saved["line"]
        self.totals = saved["totals"]
        return True

    def save(self) -> None:
        state = {**self.identity, "records": self.records, "line": self.line}
        state["totals"] = self.totals
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(state, indent=1) + "\n")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# --- import: progress ------------------------------------------------------------------


class Progress:
    """A progress bar with rate and ETA on a terminal (rich); elsewhere a
    plain line on stderr every few seconds and at the end."""

    def __init__(self, total: int, done: int, label: str):
        self.total, self.done, self.started_with = total, done, done
        self.started = time.monotonic()
        self.last_line = None
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self.bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, completed=done, rate="")

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.done - self.started_with) / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            rate = f"{self._rate():,.0f} records/s"
            self.bar.update(self.task, completed=self.done, rate=rate)
        elif self.last_line is None or time.monotonic() - self.last_line >= PLAIN_PROGRESS_EVERY:
            self._line()

    def _line(self) -> None:
        self.last_line = time.monotonic()
        rate = self._rate()
        left = self.total - self.done
        eta = f"{left / rate:,.0f} s" if rate > 0 else "unknown"
        share = 100 * self.done / self.total if self.total else 100
        click.echo(
            f"progress: {self.done:,}/{self.total:,} records ({share:.0f}%),"
            f" {rate:,.0f} records/s, ETA {eta}",
            err=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.last_line is None or self.done != self.total:
            self._line()


# --- import: signals -------------------------------------------------------------------


@contextmanager
def _stop_signals():
    """SIGINT and SIGTERM set the returned event instead of stopping the
    process at once: the batch in hand commits first."""
    stop = threading.Event()
    stop.signal = None
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(number, _frame):
        stop.signal = number
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- import ----------------------------------------------------------------------------

TOTALS = (
    "created",
    "updated",
    "unchanged",
    "rejected",
    "invited",
    "addresses_created",
    "addresses_updated",
)


@click.command("import")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="jsonl or csv (this service's export), shopify (Shopify's customer export);"
    " auto: from the file's name and header.",
)
@click.option("--dry-run", is_flag=True, help="Check every record and report; write nothing.")
@click.option(
    "--invite",
    is_flag=True,
    help="Email a reset link to each new active customer that has no password hash.",
)
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 10000),
    help="Records per transaction.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the rejected records' lines (line N: field: reason) to this file.",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The checkpoint file [default: FILE.import-state.json].",
)
@click.option("--restart", is_flag=True, help="Ignore the checkpoint: start from the first record.")
@click.pass_context
def import_customers(
    ctx: click.Context,
    file: Path,
    fmt: str,
    dry_run: bool,
    invite: bool,
    batch_size: int,
    rejects: Path | None,
    state: Path | None,
    restart: bool,
) -> None:
    """Create or update customers from FILE, matched by email in any letter
    case, in batches of one transaction each.

    Every record is checked with the API's own rules; each rejected one is
    reported as "line N: field: reason" on stderr, and the others are
    imported. A bcrypt hash in the file is kept as it is; a new customer
    without one has no password until it sets one through a reset link
    (--invite sends it). Interrupted (Ctrl-C, SIGTERM), the import stops after
    the batch in hand and records where it got in the checkpoint file; the
    same command resumes there. Exit status: 0 done, 3 done with rejected
    records, 130 interrupted, 1 could not run.
    """
    with file.open(encoding="utf-8-sig", newline="") as stream:
        head = stream.readline()
    if fmt == "auto":
        fmt = detect_format(file.name, head)
    try:
        address_import, password_reset = bulk.services_for_import(invite)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    checker = bulk.Checker(address_import)
    importer = bulk.Importer(dry_run, address_import, password_reset)

    checkpoint = Checkpoint(state or file.with_name(file.name + ".import-state.json"), file, fmt)
    resumed = False
    if not dry_run:
        if restart:
            checkpoint.remove()
        resumed = checkpoint.load()
    totals = {name: checkpoint.totals.get(name, 0) for name in TOTALS}
    if resumed:
        click.echo(
            f"resuming {file.name} after line {checkpoint.line}"
            f" ({checkpoint.records:,} records done)",
            err=True,
        )
    with file.open(encoding="utf-8-sig", newline="") as stream:
        total = count_records(stream, fmt)

    rejects_file = None
    if rejects is not None:
        rejects_file = rejects.open("a" if resumed else "w", encoding="utf-8")
    progress = Progress(total, checkpoint.records, f"{'checking' if dry_run else 'importing'}")
    interrupted = None
    try:
        with (
            file.open(encoding="utf-8-sig", newline="") as stream,
            _stop_signals() as stop,
            left_for_worker(),
        ):
            records = READERS[fmt](stream, checker.plugin_inputs)
            skip_records(records, checkpoint.records)
            batch, refused, consumed, last_line = [], [], 0, checkpoint.line
            for record in records:
                if stop.is_set():
                    break
                checked = checker.check(record)
                if isinstance(checked, list):
                    refused += checked
                else:
                    batch.append(checked)
                consumed, last_line = consumed + 1, record.line
                if consumed == batch_size:
                    _commit(importer, batch, refused, totals, rejects_file)
                    _advance(checkpoint, consumed, last_line, totals, dry_run)
                    progress.advance(consumed)
                    batch, refused, consumed = [], [], 0
            if stop.is_set():
                interrupted = stop.signal
            elif consumed:
                _commit(importer, batch, refused, totals, rejects_file)
                _advance(checkpoint, consumed, last_line, totals, dry_run)
                progress.advance(consumed)
    finally:
        progress.close()
        if rejects_file is not None:
            rejects_file.close()

    if interrupted is not None:
        click.echo(
            f"interrupted after line {checkpoint.line} ({checkpoint.records:,} records done,"
            f" checkpoint {checkpoint.path}); run the same command again to resume",
            err=True,
        )
        ctx.exit(EXIT_INTERRUPTED)
    if not dry_run:
        checkpoint.remove()
    click.echo(_summary(file.name, checkpoint.records, totals, dry_run))
    if totals["rejected"]:
        ctx.exit(EXIT_REJECTED)


def _commit(importer, batch, refused, totals, rejects_file) -> None:
    """Write a batch, then report its rejected records (after the commit, so
    that a resumed import reports each once). A batch the database refuses
    stops the import in one line; the checkpoint stays before it."""
    try:
        result = importer.write(batch)
    except sa.exc.SQLAlchemyError as error:
        lines = [record.line for record in batch] + [record.line for record in refused]
        reason = " ".join(str(getattr(error, "orig", error)).split())[:500]
        raise click.ClickException(
            f"the database refused the batch of lines {min(lines)}-{max(lines)}"
            f" (nothing of it was written): {reason}; run the same command again to resume"
        ) from None
    refused = sorted(refused + result.rejected, key=lambda rejected: rejected.line)
    for name in TOTALS:
        if name != "rejected":
            totals[name] += getattr(result, name)
    totals["rejected"] += len({rejected.line for rejected in refused})
    for rejected in refused:
        click.echo(str(rejected), err=True)
        if rejects_file is not None:
            rejects_file.write(f"{rejected}\n")
    if rejects_file is not None:
        rejects_file.flush()


def _advance(checkpoint: Checkpoint, consumed: int, line: int, totals: dict, dry_run: bool):
    checkpoint.records += consumed
    checkpoint.line = line
    checkpoint.totals = dict(totals)
    if not dry_run:
        checkpoint.save()


def _summary(name: str, records: int, totals: dict, dry_run: bool) -> str:
    verbs = ("would create", "would update") if dry_run else ("created", "updated")
    text = (
        f"{name}: {records:,} records: {totals['created']:,} {verbs[0]},"
        f" {totals['updated']:,} {verbs[1]}, {totals['unchanged']:,} unchanged,"
        f" {totals['rejected']:,} rejected"
    )
    if not dry_run:
        text += (
            f"; addresses: {totals['addresses_created']:,} created,"
            f" {totals['addresses_updated']:,} updated; {totals['invited']:,} invited"
        )
    else:
        text += " (dry run: nothing written)"
    return text


COMMANDS = [export_customers, import_customers]
