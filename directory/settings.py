"""Configuration as data: SENSATE_* environment variables with safe embedded defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

SearchBackend = Literal["embedded", "meilisearch"]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    var_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under var_dir
    # PostgreSQL connections per process: each app replica and worker holds its own pool,
    # so replicas x (pool + overflow) must stay under the server's max_connections.
    db_pool_size: int = 5
    db_max_overflow: int = 10
    search: SearchBackend = "embedded"
    meili_url: str = ""
    meili_key: str = ""  # never logged, never committed
    meili_index: str = "therapists"
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies (comma-separated addresses or CIDR networks, "*" for any) whose
    # X-Forwarded-For and X-Forwarded-Proto the server believes. Behind a load balancer the
    # client address is otherwise the balancer's, and the per-client limit on listing
    # reports would become one limit for everyone.
    forwarded_allow_ips: str = "127.0.0.1"
    demo_profiles: int = 400  # loaded by `make run` when the store is empty
    demo_seed: int = 7
    indexer_interval_s: float = 1.0  # how often the in-process indexer drains the outbox
    run_indexer: bool = True  # False when a separate `sensate worker` drains the outbox
    # The largest file an import reads (a CSV, JSON, table of a package, member of a ZIP,
    # uncompressed). The monthly NPPES CSV is about 10 GB; HTTP uploads are capped lower.
    import_max_file_mb: int = 16384
    # A run left "running" whose heartbeat is older than this is taken for interrupted
    # (runs on this host are also failed at once when their process is gone). Runs beat
    # every 30 s, so keep this well above that.
    import_stale_after_s: float = 300.0
    # `sensate serve` closes a connection whose request headers are not complete this long
    # after it opened (or after its previous response), and one whose body stalls this long
    # between two reads: slow clients must not hold connections (slowloris).
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    # Server processes (`sensate serve --workers N`). Each has its own embedded index,
    # memory-mapped from the one saved file, and follows the outbox by id.
    workers: int = 1
    debug: bool = False
    # Mail to clinicians (claims, sign-in links, "still accepting new clients?"). Without an
    # SMTP URL, messages are written to var/mail/ as .eml files (make run).
    smtp_url: str = ""  # smtp://[user:password@]host:port or smtps://...; never logged
    smtp_starttls: bool = False
    mail_from: str = "Sensate <no-reply@sensate.invalid>"
    # The site's address as clinicians reach it: every emailed link starts with it.
    public_url: str = "http://127.0.0.1:8000"
    # Sign-in and claim mails per address (and per client) per hour: a flood of requests
    # must not turn the site into a way of mail-bombing someone.
    mail_requests_per_hour: int = 5
    # How often the worker (or the in-process indexer thread) runs the freshness schedule.
    freshness_interval_s: float = 3600.0

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'sensate.sqlite3').resolve()}"

    @property
    def import_max_file_bytes(self) -> int:
        return self.import_max_file_mb * 1024 * 1024

    @property
    def index_path(self) -> Path:
        """Where the embedded index keeps its snapshot between runs."""
        return self.var_dir / "index.bin"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            key = f"SENSATE_{field.name.upper()}"
            if key in env:
                raw[field.name] = env[key]
        # strict=False lets msgspec turn "8000" into 8000 and "true" into True.
        return msgspec.convert(raw, cls, strict=False, dec_hook=_decode)


def _decode(type_: type, value: object) -> object:
    if type_ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError
