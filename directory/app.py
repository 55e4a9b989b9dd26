"""The composition root: the Litestar application factory.

``create_app(settings)`` wires the Directory into the app's lifespan and dependency
injection, and mounts the API's router (``directory.api.router``) and the web pages' router
(``directory.web.pages``) side by side: neither imports the other. Privacy is built in here: no
cookies for anonymous visitors, a strict Content-Security-Policy on every response, and
an access log that records the path but never the query string.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get
from litestar.concurrency import sync_to_thread
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from directory import logs
from directory.api.openapi import DescribedJson
from directory.api.problems import EXCEPTION_HANDLERS
from directory.api.requests import JsonCheckedRequest
from directory.api.router import ApiRouter
from directory.clinicians import LinkSite
from directory.freshness import Scheduler
from directory.mail import BackgroundMailer, Mailer, mailer_from_settings
from directory.service import Directory
from directory.serving import protocol_with_deadlines
from directory.settings import Settings
from directory.store.sessions import DatabaseSessionStore
from directory.store.tables_clinicians import clinician_sessions
from directory.web.api_docs import ApiDocsPlugin
from directory.web.clinician import SESSION_STORE as CLINICIAN_SESSIONS
from directory.web.pages import PageController
from directory.web.render import error_page
from directory.web.verify import SESSION_STORE

ExceptionHandler = Callable[[Request, Any], Response[Any]]
WEB_DIR = Path(__file__).resolve().parent / "web"
access_log = logging.getLogger("sensate.access")

# Paths whose responses hold secrets (CSRF tokens) beside reflected input: never compressed.
COMPRESSION_EXCLUDED = ["^/verify"]

SECURITY_HEADERS = {
    # Everything comes from this origin; no inline script, no third parties at all.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "permissions-policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """The app's ``before_send`` hook: it sees every response, routing-level 404 and 405
    included (those never pass through middleware, which wraps route handlers only)."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    present = {bytes(name).decode("latin-1").lower() for name, _ in headers}
    for name, value in SECURITY_HEADERS.items():
        if name not in present:
            headers.append((name.encode(), value.encode()))
    message["headers"] = headers


async def log_response(message: Message, scope: Scope) -> None:
    """The access log: method, path and status of every response, never the query text.

    A ``before_send`` hook rather than a middleware, so that the router's own answers
    (404 for no route, 405 for a wrong method) are logged like any other. The path is
    the client's, decoded: directory.logs escapes its control characters.
    """
    if message["type"] == "http.response.start" and scope["type"] == "http":
        access_log.info("%s %s %s", scope.get("method"), scope.get("path"), message["status"])


# Where the JSON API answers; everything else is a page (or a static file) for people.
_JSON_PATHS = ("/api/", "/schema", "/healthz")


def serves_pages(request: Request) -> bool:
    """Whether an error on this request is shown to a person (an HTML page) or to a program
    (a problem document): pages unless the path is the API's or the client asks for JSON."""
    path = request.scope.get("path", "")
    return not path.startswith(_JSON_PATHS) and "json" not in request.headers.get("accept", "")


def _pages_too(api_handler: ExceptionHandler) -> ExceptionHandler:
    """The API's handler for an error, with an HTML page instead of its problem document when
    the request was for a page: same status, same headers (Allow, Retry-After), same words."""

    def handler(request: Request, exc: Exception) -> Response[Any]:
        answer = api_handler(request, exc)
        if not serves_pages(request):
            return answer
        body = answer.content if isinstance(answer.content, dict) else {}
        return error_page(
            answer.status_code or 500, str(body.get("detail", "")), dict(answer.headers)
        )

    return handler


EXCEPTION_HANDLERS_FOR_ALL = {
    kind: _pages_too(handler) for kind, handler in EXCEPTION_HANDLERS.items()
}


@get("/healthz", tags=["health"], summary="Liveness and index status")
async def healthz(directory: NamedDependency[Directory]) -> dict[str, Any]:
    return {
        "status": "ok",
        "search": directory.settings.search,
        "indexed": directory.index.count(),
    }


def sweep_interrupted_imports(directory: Directory) -> None:
    """Start-up clean-up after imports whose process died (importers.liveness)."""
    from importers.liveness import sweep_interrupted

    settings = directory.settings
    sweep_interrupted(
        directory.store, settings.var_dir, stale_after_s=settings.import_stale_after_s
    )


def create_app(
    settings: Settings | None = None,
    directory: Directory | None = None,
    mailer: Mailer | None = None,
) -> Litestar:
    """Build the app. Pass ``directory`` to share one already started (tests, benchmarks);
    ``mailer`` replaces the one the settings name (SMTP, or files under var/mail/)."""
    settings = settings or Settings.from_env()
    owns_directory = directory is None
    # Sent on a thread: a page answers as fast whether it sent mail or not.
    mail: Mailer = mailer or BackgroundMailer(mailer_from_settings(settings))
    site = LinkSite(settings.public_url, settings.mail_requests_per_hour)
    logs.install()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if owns_directory:
            app.state.directory = Directory.from_settings(settings)
            app.state.directory.start()
        else:
            app.state.directory = directory
        # Imports a killed process left "running", and its upload folders: failed / removed.
        await sync_to_thread(sweep_interrupted_imports, app.state.directory)
        # The console's sessions live in the directory's database, shared by all replicas.
        app.stores.register(
            SESSION_STORE,
            DatabaseSessionStore(app.state.directory.store.engine),
            allow_override=True,
        )
        app.stores.register(
            CLINICIAN_SESSIONS,
            DatabaseSessionStore(app.state.directory.store.engine, table=clinician_sessions),
            allow_override=True,
        )
        # Under `make run` the app asks "still accepting new clients?" itself; scaled out,
        # `sensate worker` does (SENSATE_RUN_INDEXER=false on the replicas).
        scheduler: Scheduler | None = None
        if owns_directory and settings.run_indexer:
            scheduler = Scheduler(
                app.state.directory.store, mail, site, settings.freshness_interval_s
            )
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            if owns_directory:
                app.state.directory.stop()

    def provide_directory(state: State) -> Directory:
        directory: Directory = state.directory
        return directory

    described = DescribedJson(path="/openapi.json")
    return Litestar(
        route_handlers=[
            healthz,
            ApiRouter,
            PageController,
            create_static_files_router(
                path="/static", directories=[WEB_DIR / "static"], include_in_schema=False
            ),
        ],
        dependencies={
            "directory": Provide(provide_directory, sync_to_thread=False),
            "mailer": Provide(lambda: mail, sync_to_thread=False),
            "site": Provide(lambda: site, sync_to_thread=False),
        },
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS_FOR_ALL,  # type: ignore[arg-type]  # Litestar's handler map is typed by exact class
        template_config=TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="Sensate",
            version="1",
            path="/schema",
            # The reference page is ours, rendered on the server: the stock UIs load scripts
            # from CDNs, which the Content-Security-Policy blocks. Both render the described
            # document (problem responses, enums, security schemes).
            render_plugins=[ApiDocsPlugin(describe=described.document), described],
        ),
        compression_config=CompressionConfig(
            backend="gzip",
            gzip_compress_level=6,  # most of level 9's gain at a fraction of its CPU
            # Pages that carry a CSRF token next to text the visitor sent are not compressed,
            # so their size cannot leak the token (BREACH).
            exclude=COMPRESSION_EXCLUDED,
        ),
        request_max_body_size=64 * 1024,
        request_class=JsonCheckedRequest,
        before_send=[add_security_headers, log_response],
        debug=settings.debug,
    )


def server_config(settings: Settings, app: Litestar | None = None) -> uvicorn.Config:
    """How ``sensate serve`` runs the app under uvicorn (the tests start it the same way)."""
    return uvicorn.Config(
        app or create_app(settings),
        host=settings.host,
        port=settings.port,
        # Uvicorn's access log prints query strings; ours logs paths only.
        access_log=False,
        log_level="info",
        # The client address and scheme come from X-Forwarded-* only when the peer is a
        # trusted proxy; anyone else could claim any address and dodge the report limit.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        lifespan="on",
        # Slow clients: headers must arrive within a deadline, a body may not stall
        # (directory/serving.py); uvicorn's own timeouts cover neither.
        http=protocol_with_deadlines(settings.header_timeout_s, settings.body_timeout_s),
    )
