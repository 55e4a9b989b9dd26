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
    # Server processes (`sensate serve --workers N`). Each has its own embedded index,
    # memory-mapped from the one saved file, and follows the outbox by id.
    workers: int = 1
    debug: bool = False

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'sensate.sqlite3').resolve()}"

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
