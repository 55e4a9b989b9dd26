"""The `sensate` command. Each subcommand is a thin shell over the Python API."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress

from directory.settings import Settings

if TYPE_CHECKING:
    from directory.records import Therapist
    from directory.store import DirectoryStore

console = Console(stderr=True)


def _settings() -> Settings:
    return Settings.from_env()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Sensate: a directory of sex therapists with verified credentials."""
    from directory import logs

    logs.install()  # no log line can be forged by text from a file, a request or a key name
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from directory.store import migrate as run_migrations

    settings = _settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.sqlalchemy_url)
    console.print("[green]database is up to date[/]")


@main.command()
@click.option(
    "--profiles",
    default=None,
    type=click.IntRange(1, 1_000_000),
    help="How many fictional profiles (default SENSATE_DEMO_PROFILES).",
)
@click.option("--seed", default=None, type=int, help="Random seed (same seed, same data).")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Date the demo is generated for (default today).",
)
@click.option("--if-empty", is_flag=True, help="Only load when the directory is empty.")
def demo(profiles: int | None, seed: int | None, as_of: dt.datetime | None, if_empty: bool) -> None:
    """Load a generated, clearly fictional demo directory."""
    from directory.demo import demo_therapists
    from directory.store import DirectoryStore, engine_from_settings

    settings = _settings()
    store = DirectoryStore(engine_from_settings(settings))
    if if_empty and not store.is_empty():
        console.print(f"directory already holds {store.count_therapists()} profiles; demo skipped")
        return
    count = profiles or settings.demo_profiles
    therapists = demo_therapists(
        count,
        seed=settings.demo_seed if seed is None else seed,
        as_of=as_of.date() if as_of else None,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating and storing", total=count)

        def tracked() -> Iterator[Therapist]:
            for therapist in therapists:
                progress.advance(task)
                yield therapist

        added = store.add_therapists(tracked(), actor="cli:demo", source="demo generator")
    console.print(f"[green]added {added} fictional profiles[/]")


@main.command()
@click.option("--verify", is_flag=True, help="Report differences between store and index.")
def reindex(verify: bool) -> None:
    """Rebuild the search index from the store (or check it with --verify)."""
    from directory.index.sync import rebuild
    from directory.index.sync import verify as verify_index
    from directory.service import Directory

    settings = _settings()
    directory = Directory.from_settings(settings)
    if verify:
        if settings.search == "embedded":
            # The embedded index lives inside the server process: load it here as the
            # server does at start (its saved copy, caught up with the store), then check it.
            directory.load_embedded_index()
        difference = verify_index(directory.store, directory.index, directory.vocab)
        for label, ids in (
            ("missing", difference.missing),
            ("extra", difference.extra),
            ("stale", difference.stale),
        ):
            console.print(f"{label}: {len(ids)}" + (f" e.g. {', '.join(ids[:5])}" if ids else ""))
        sys.exit(0 if difference.clean else 1)
    total = directory.store.count_therapists()
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("indexing", total=total)
        count = rebuild(
            directory.store,
            directory.index,
            directory.vocab,
            progress=lambda n: progress.advance(task, n),
        )
    console.print(f"[green]indexed {count} profiles in {time.perf_counter() - started:.1f}s[/]")
    if settings.search == "embedded":
        # The server loads this copy at its next start instead of building from the store.
        directory.save_embedded_index()
        console.print(f"saved to {settings.index_path}; the server loads it at its next start")


@main.command()
def worker() -> None:
    """Drain the outbox into the search index (for deployments with a separate worker)."""
    from directory.app import sweep_interrupted_imports
    from directory.service import Directory

    settings = _settings()
    directory = Directory.from_settings(settings)
    sweep_interrupted_imports(directory)  # a worker restarting after a crash cleans up too
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from directory.clinicians import LinkSite
    from directory.freshness import Scheduler
    from directory.mail import mailer_from_settings

    # The freshness schedule ("still accepting new clients?" mails) runs beside the drain.
    site = LinkSite(settings.public_url, settings.mail_requests_per_hour)
    schedule = Scheduler(
        directory.store, mailer_from_settings(settings), site, settings.freshness_interval_s
    )
    schedule.start()
    console.print("worker draining the outbox and running the freshness schedule; Ctrl-C to stop")
    try:
        directory.indexer.run(stop, settings.indexer_interval_s)
    finally:
        schedule.stop()


@main.group()
def freshness() -> None:
    """The freshness loop: how current availability is, and asking clinicians to confirm."""


@freshness.command("report")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="As of day.")
def freshness_report(on: dt.datetime | None) -> None:
    """Print the share of listings confirmed within 30, 90 and 180 days."""
    from directory.freshness import report
    from directory.store import DirectoryStore, engine_from_settings

    store = DirectoryStore(engine_from_settings(_settings()))
    for line in report(store, on.date() if on else dt.date.today()).lines():
        click.echo(line)


@freshness.command("ask")
def freshness_ask() -> None:
    """Send the "still accepting new clients?" mails that are due now (the worker does this)."""
    from directory.clinicians import LinkSite
    from directory.freshness import ask
    from directory.mail import mailer_from_settings
    from directory.store import DirectoryStore, engine_from_settings

    settings = _settings()
    store = DirectoryStore(engine_from_settings(settings))
    site = LinkSite(settings.public_url, settings.mail_requests_per_hour)
    sent = ask(store, mailer_from_settings(settings), site, dt.date.today())
    click.echo(f"asked {sent} listing owners")


@main.command()
@click.option("--host", default=None, help="Interface (default SENSATE_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default SENSATE_PORT, 8000).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes (default SENSATE_WORKERS, 1).",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web pages and the API."""
    import os

    import msgspec
    import uvicorn

    from directory.app import server_config

    settings = _settings()
    settings = msgspec.structs.replace(
        settings,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
    )
    console.print(f"Sensate on http://{settings.host}:{settings.port}/")
    if settings.workers == 1:
        uvicorn.Server(server_config(settings)).run()
        return
    if settings.search == "embedded":
        _prepare_shared_index(settings)
    # Each worker process builds its app from the environment (uvicorn imports the factory
    # there), so the options given here travel as SENSATE_* variables.
    os.environ.update(
        SENSATE_HOST=settings.host,
        SENSATE_PORT=str(settings.port),
        SENSATE_WORKERS=str(settings.workers),
    )
    config = server_config(settings)
    uvicorn.run(
        "directory.app:create_app",
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        access_log=config.access_log,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        lifespan="on",
    )


def _prepare_shared_index(settings: Settings) -> None:
    """Bring the embedded index's saved file up to date once, before the workers start:
    each of them then maps it (sharing its pages) and has only the outbox to follow, rather
    than every worker building the same index from the store at once.

    In a process of its own: the supervisor that then watches the workers would otherwise
    keep the heap this took for as long as it serves (700 MB at 100k listings)."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(
        target=_bring_saved_index_up_to_date, args=(settings,), name="sensate-prepare-index"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise click.ClickException(f"could not prepare the shared index (exit {child.exitcode})")


def _bring_saved_index_up_to_date(settings: Settings) -> None:
    from directory.service import Directory

    directory = Directory.from_settings(settings)
    directory.load_embedded_index()
    directory.indexer.drain()
    directory.save_embedded_index()
    directory.stop()


@main.command("import")
@click.argument(
    "kind",
    type=click.Choice(
        ["nppes", "npi_registry", "fhir", "ndh", "hsds", "roster", "license_board", "leie"]
    ),
)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--mapping", type=click.Path(exists=True, path_type=Path), help="Column mapping.")
@click.option(
    "--full/--not-full", default=None, help="The roster lists everyone (default: its mapping)."
)
@click.option("--dry-run", is_flag=True, help="Resolve and count, write nothing.")
@click.option("--rejects", type=click.Path(path_type=Path), help="Rejects CSV (default var/).")
def import_(
    kind: str,
    path: Path,
    mapping: Path | None,
    full: bool | None,
    dry_run: bool,
    rejects: Path | None,
) -> None:
    """Import a source file; prints the report (see importers/apply.py).

    leie: the OIG exclusion list, UPDATED.csv or a monthly YYMMexcl.csv / YYMMrein.csv
    (importers/leie.py); matched clinicians leave search and matching, name-only matches
    go to the verifier queue.
    """
    from importers.cli import run_import_command, run_leie_command

    if kind == "leie":
        sys.exit(run_leie_command(_settings(), path, console))

    sys.exit(run_import_command(_settings(), kind, path, mapping, full, dry_run, rejects, console))


@main.group()
def npi() -> None:
    """Ask the NPI Registry (CMS) about a provider."""


@npi.command("lookup")
@click.argument("number")
@click.option(
    "--base-url",
    envvar="SENSATE_NPI_REGISTRY_URL",
    default="https://npiregistry.cms.hhs.gov/api/",
    show_default=True,
    help="The registry API (env SENSATE_NPI_REGISTRY_URL).",
)
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait.")
def npi_lookup(number: str, base_url: str, timeout: float) -> None:
    """Look one NPI up in the live NPI Registry."""
    from importers.cli import run_npi_lookup

    sys.exit(run_npi_lookup(number, base_url, timeout, console))


@main.group()
def keys() -> None:
    """Create, list and revoke API keys for verifiers and admins."""


def _key_store() -> DirectoryStore:
    from directory.store import DirectoryStore, engine_from_settings

    return DirectoryStore(engine_from_settings(_settings()))


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(["verifier", "admin"]))
@click.option("--name", required=True, help="Unique for ever; audit events record it.")
def keys_create(role: str, name: str) -> None:
    """Make a key and print it once (only its hash is kept)."""
    from directory.keys import new_key
    from directory.records import ApiKey
    from directory.store import DuplicateKey

    if not name.strip():
        raise click.BadParameter("must not be blank", param_hint="--name")
    key_id, key, key_hash = new_key()
    record = ApiKey(id=key_id, name=name.strip(), role=role, created_at=dt.datetime.now(dt.UTC))  # type: ignore[arg-type]  # click.Choice admits only ApiKey roles
    try:
        _key_store().add_api_key(record, key_hash, actor="cli")
    except DuplicateKey:
        raise click.BadParameter(
            f"a key named {name!r} exists already", param_hint="--name"
        ) from None
    console.print(f"created {role} key {name!r} (id {key_id}); it is shown only now:")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """Every key: id, name, role, created, last used, revoked (never the key)."""
    for key in _key_store().list_api_keys():
        when = lambda t: t.strftime("%Y-%m-%d %H:%M") if t else "-"  # noqa: E731
        click.echo(
            f"{key.id}  {key.name}  {key.role}  created {when(key.created_at)}  "
            f"used {when(key.last_used_at)}  "
            + (f"REVOKED {when(key.revoked_at)}" if key.revoked_at else "active")
        )


@keys.command("revoke")
@click.argument("name_or_id")
@click.option("--reason", required=True, help="Why; the audit trail keeps it.")
def keys_revoke(name_or_id: str, reason: str) -> None:
    """Revoke a key at once; requests with it get 401 from now on."""
    store = _key_store()
    found = store.find_api_key(name_or_id)
    if found is None:
        raise click.BadParameter(f"no key named or with id {name_or_id!r}", param_hint="NAME_OR_ID")
    if not reason.strip():
        raise click.BadParameter("must not be blank", param_hint="--reason")
    key = store.revoke_api_key(found.id, actor="cli", reason=reason.strip())
    console.print(f"revoked key {key.name!r} (id {key.id}) at {key.revoked_at:%Y-%m-%d %H:%M} UTC")
