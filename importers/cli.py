"""What `sensate import` and `sensate npi lookup` do (directory/cli.py holds only the options)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from directory.settings import Settings
from importers.base import ImportReport

REJECTS_SHOWN = 10


def run_import_command(
    settings: Settings,
    kind: str,
    path: Path,
    mapping: Path | None,
    full: bool | None,
    dry_run: bool,
    rejects: Path | None,
    console: Console,
) -> int:
    """Run an import with a progress display; print the report. Returns the exit status."""
    # Loading Alembic (the store's schema tools) logs its plugin set-up at INFO: noise in
    # an import's report. Raised before the store is imported, where those lines come from.
    alembic_log = logging.getLogger("alembic")
    alembic_log.setLevel(max(alembic_log.getEffectiveLevel(), logging.WARNING))
    from directory.store import DirectoryStore, engine_from_settings
    from importers.apply import ImportError_, run_import

    store = DirectoryStore(engine_from_settings(settings))
    run_id = str(uuid.uuid4())
    if rejects is None:
        rejects = settings.var_dir / "imports" / f"{run_id}-rejects.csv"
    rejects.parent.mkdir(parents=True, exist_ok=True)
    # The number of records is unknown until the file is read (NPPES filters as it goes),
    # so the bar pulses and counts rather than pretending to know a percentage.
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"importing {path.name}", total=None)
        try:
            report = run_import(
                store,
                kind,
                path,
                mapping=mapping,
                full=full,
                dry_run=dry_run,
                actor="cli",
                rejects_csv=rejects,
                progress=lambda n: progress.advance(task, n),
                run_id=run_id,
                max_file_bytes=settings.import_max_file_bytes,
            )
        except ImportError_ as error:
            console.print(f"[red]cannot import {path.name}:[/] {error}")
            rejects.unlink(missing_ok=True)
            return 1
    print_report(report, rejects, console)
    return 0


def run_leie_command(settings: Settings, path: Path, console: Console) -> int:
    """Import an OIG LEIE file; print what matched. A bad file writes nothing and exits 1."""
    import datetime as dt

    from directory.store import DirectoryStore, engine_from_settings
    from importers.leie import LeieFileError, import_leie

    store = DirectoryStore(engine_from_settings(settings))
    try:
        report = import_leie(store, path, day=dt.date.today())
    except LeieFileError as error:
        console.print(f"[red]cannot import {path.name}:[/] {error}")
        console.print("Nothing was written.")
        return 1
    counts = report.counts
    table = Table(title=f"OIG LEIE {report.mode} file {report.file_name}", show_header=False)
    for label, value in (
        ("rows read", report.rows),
        ("matched by NPI", report.matched_by_npi),
        ("matched by name and state (for review)", report.matched_by_name),
        ("new exclusions", counts.applied),
        ("queued for verifier review", counts.queued_for_review),
        ("lifted (reinstated or no longer listed)", counts.lifted),
        ("unchanged", counts.unchanged),
        ("clinician records changed", counts.therapists_changed),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    return 0


def print_report(report: ImportReport, rejects: Path, console: Console) -> None:
    title = f"{'DRY RUN: ' if report.dry_run else ''}import {report.id} of {report.file}"
    table = Table(title=title, show_header=False)
    for name in (
        "read",
        "in_scope",
        "out_of_scope",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "warnings",
        "skipped",
        "queued_for_review",
    ):
        table.add_row(name.replace("_", " "), f"{getattr(report, name):,}")
    console.print(table)
    if report.rejected or report.warnings:
        for reject in report.rejects[:REJECTS_SHOWN]:
            console.print(f"  row {reject.row} ({reject.severity}): {reject.reason}")
        console.print(f"every reject, with its row and reason: {rejects}")
    else:
        rejects.unlink(missing_ok=True)


def run_npi_lookup(number: str, base_url: str, timeout: float, console: Console) -> int:
    """Look an NPI up; 0 found, 1 not found or invalid, 2 registry not reachable."""
    from importers.npi_registry import (
        NpiNotFound,
        NpiRegistryError,
        RegistryUnreachable,
        lookup_npi,
    )

    try:
        record = lookup_npi(number, base_url=base_url, timeout=timeout)
    except ValueError as error:
        console.print(f"[red]{error}[/]")
        return 1
    except RegistryUnreachable as error:
        console.print(
            f"[red]The NPI Registry cannot be reached from this machine:[/] {error}.\n"
            "If this network allows no internet access, look the NPI up on "
            "https://npiregistry.cms.hhs.gov/ elsewhere, or import the NPPES file "
            "(sensate import nppes FILE)."
        )
        return 2
    except NpiNotFound:
        console.print(f"the NPI Registry has no provider with NPI {number}")
        return 1
    except NpiRegistryError as error:
        console.print(f"[red]the NPI Registry answered with an error:[/] {error}")
        return 1
    subject = record.therapist if record.therapist is not None else record.practice
    print(msgspec.json.format(msgspec.json.encode(subject)).decode())
    return 0
