"""The hostile-input corpus (tests/hostile_inputs.py) against every route that takes a body,
a query parameter or a header value (issue 15): each answer is a 4xx problem document (API)
or page (web), or a normal answer; never a 5xx, never a hang (each request has 20 s).

Real uvicorn on a loopback port, as ``sensate serve`` runs the app; SQLite and PostgreSQL.
Values are percent-encoded from their UTF-8 bytes (lone surrogates as the bytes a careless
client sends, ``surrogatepass``), JSON bodies carry them as JSON escapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from directory.service import Directory
from tests.app_fixtures import live_server
from tests.directory.api.verif_helpers import make_key, small_directory
from tests.hostile_inputs import ALL

TIMEOUT = httpx.Timeout(20.0)


def encoded(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass(frozen=True)
class Probe:
    """One route and the place the hostile value goes: a query parameter, a path segment, a
    JSON body field, a form field or a header."""

    method: str
    path: str  # {x} marks the hostile path segment
    where: str  # "query", "path", "json", "form", "header"
    name: str = ""
    base: tuple[tuple[str, object], ...] = ()  # the other fields of a body or query
    who: str = "anonymous"  # or "verifier", "admin", "console"

    @property
    def is_page(self) -> bool:
        return not self.path.startswith("/api/")


@dataclass
class World:
    base_url: str
    therapist: str
    credential: str
    keys: dict[str, str]
    console_cookies: httpx.Cookies
    csrf: str
    directory: Directory


SEARCH = [
    "q", "concern", "population", "language", "gender", "license_type", "insurance",
    "max_fee", "sliding_scale", "accepting", "certified", "zip", "radius_km",
    "telehealth_state", "on", "sort", "page", "per_page", "facet",
]  # fmt: skip
MATCH = [
    "concerns", "text", "referring_discipline", "patient_zip", "patient_state", "delivery",
    "radius_km", "languages", "insurance", "max_fee", "on", "limit",
]  # fmt: skip
PAGE_SEARCH = [
    "q", "zip", "radius_km", "telehealth_state", "population", "language", "gender",
    "insurance", "max_fee", "page",
]  # fmt: skip
REFER = [
    "discipline", "concern", "zip", "state", "delivery", "radius_km", "language",
    "population", "gender", "insurance", "max_fee",
]  # fmt: skip
CHECK = ["source", "method", "verified_on", "status_found", "evidence", "expires_on", "reason"]
LISTS = {"concerns", "languages"}

T, C = "{therapist}", "{credential}"
PROBES: list[Probe] = [
    *(Probe("GET", "/api/v1/therapists", "query", n, (("q", "pain"),)) for n in SEARCH),
    Probe("GET", "/api/v1/therapists/{x}", "path"),
    Probe("GET", f"/api/v1/therapists/{T}", "query", "on"),
    Probe("GET", "/api/v1/vocabulary/suggest", "query", "q"),
    *(Probe("POST", "/api/v1/matches", "json", n, (("patient_state", "MN"),)) for n in MATCH),
    Probe("POST", f"/api/v1/therapists/{T}/reports", "json", "reason"),
    Probe("POST", f"/api/v1/therapists/{T}/reports", "json", "details", (("reason", "other"),)),
    Probe("POST", "/api/v1/therapists/{x}/reports", "path", base=(("reason", "other"),)),
    Probe("GET", "/api/v1/verifier/queue", "query", "on", who="verifier"),
    Probe("GET", "/api/v1/verifier/queue", "query", "limit", who="verifier"),
    Probe("GET", f"/api/v1/therapists/{T}/credentials/{{x}}", "path", who="verifier"),
    *(
        Probe(
            "POST",
            f"/api/v1/therapists/{T}/credentials/{C}/verifications",
            "json",
            n,
            (
                ("kind", "license"),
                ("source", "board"),
                ("verified_on", "2026-01-05"),
                ("evidence", "lookup"),
            ),
            who="verifier",
        )
        for n in CHECK
    ),
    Probe(
        "POST",
        f"/api/v1/therapists/{T}/credentials/{C}/status",
        "header",
        "If-Match",
        (("status", "inactive"), ("reason", "board action")),
        who="verifier",
    ),
    Probe(
        "POST",
        f"/api/v1/therapists/{T}/credentials/{C}/status",
        "json",
        "status",
        (("reason", "x"),),
        who="verifier",
    ),
    Probe(
        "POST",
        f"/api/v1/therapists/{T}/fl-title-verifications",
        "json",
        "verified_on",
        (("qualified", False), ("source", "FL"), ("evidence", "e")),
        who="verifier",
    ),
    Probe("GET", f"/api/v1/therapists/{T}/provenance", "query", "field", who="verifier"),
    Probe("GET", "/api/v1/therapists/{x}/history", "path", who="verifier"),
    Probe(
        "POST",
        "/api/v1/review-pairs/{x}/resolution",
        "path",
        base=(("decision", "distinct"),),
        who="verifier",
    ),
    Probe(
        "POST",
        "/api/v1/verifier/reports/{x}/resolution",
        "path",
        base=(("resolution", "done"),),
        who="verifier",
    ),
    Probe("GET", "/api/v1/imports/{x}", "path", who="admin"),
    Probe("POST", "/api/v1/imports", "json", "kind", (("content", "x"),), who="admin"),
    Probe(
        "POST",
        "/api/v1/imports",
        "json",
        "content",
        (("kind", "fhir"), ("filename", "a.json")),
        who="admin",
    ),
    Probe(
        "POST",
        "/api/v1/imports",
        "json",
        "filename",
        (("kind", "hsds"), ("content", "{}")),
        who="admin",
    ),
    # pages
    *(Probe("GET", "/", "query", n, (("q", "pain"),)) for n in PAGE_SEARCH),
    *(Probe("GET", "/refer", "query", n, (("state", "MN"),)) for n in REFER),
    Probe("GET", "/refer/summary", "query", "therapist", (("state", "MN"),)),
    Probe("GET", "/refer/summary.pdf", "query", "therapist", (("state", "MN"),)),
    Probe("GET", "/therapists/{x}", "path"),
    Probe("POST", f"/therapists/{T}/report", "form", "reason"),
    Probe("POST", f"/therapists/{T}/report", "form", "details", (("reason", "other"),)),
    Probe("POST", "/verify/sign-in", "form", "api_key"),
    Probe("GET", "/verify/clinicians/{x}", "path", who="console"),
    *(
        Probe(
            "POST",
            f"/verify/clinicians/{T}/credentials/{C}/verifications",
            "form",
            n,
            (
                ("version", "1"),
                ("source", "board"),
                ("verified_on", "2026-01-05"),
                ("evidence", "lookup"),
                ("reason", "check"),
            ),
            who="console",
        )
        for n in ["version", "verified_on", "expires_on", "next_check_due", "evidence"]
    ),
    Probe(
        "POST", "/verify/reports/{x}/resolution", "path", base=(("version", "1"),), who="console"
    ),
    Probe(
        "POST",
        "/verify/review-pairs/{x}/resolution",
        "path",
        base=(("decision", "distinct"),),
        who="console",
    ),
]


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = small_directory(module_database_url, tmp_path_factory.mktemp("var"))
    therapist = next(t for t in directory.store.iter_therapists() if t.active and t.licenses)
    keys = {
        role: make_key(directory.store, f"hostile-{role}", role)["Authorization"]
        for role in ("verifier", "admin")
    }
    console_key = keys["verifier"].removeprefix("Bearer ")
    try:
        with live_server(directory) as base_url, httpx.Client(timeout=TIMEOUT) as client:
            signed = client.post(f"{base_url}/verify/sign-in", data={"api_key": console_key})
            assert signed.status_code == 303, signed.text[:300]
            page = client.get(f"{base_url}/verify/clinicians/{therapist.id}")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            yield World(
                base_url,
                therapist.id,
                therapist.licenses[0].id,
                keys,
                client.cookies,
                csrf.group(1),
                directory,
            )
    finally:
        directory.stop()


def send(client: httpx.Client, world: World, probe: Probe, value: str) -> httpx.Response | None:
    path = probe.path.replace(T, world.therapist).replace(C, world.credential)
    path = path.replace("{x}", encoded(value))
    headers: dict[str, str | bytes] = {}
    if probe.who in ("verifier", "admin"):
        headers["Authorization"] = world.keys[probe.who]
    fields = dict(probe.base)
    if probe.who == "console":
        fields["csrf_token"] = world.csrf
    if probe.where in ("json", "form", "query"):
        fields[probe.name] = [value] if probe.name in LISTS and probe.where == "json" else value
    url = world.base_url + path
    content: bytes | None = None
    if probe.where == "query" or probe.method == "GET":
        query = "&".join(f"{encoded(k)}={encoded(str(v))}" for k, v in fields.items())
        url += "?" + query if query else ""
    elif probe.where == "form" or probe.is_page:
        content = "&".join(f"{encoded(k)}={encoded(str(v))}" for k, v in fields.items()).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    else:
        content = json.dumps(fields).encode()
        headers["content-type"] = "application/json"
    if probe.where == "header":
        try:
            headers[probe.name] = value.encode("latin-1")
        except UnicodeEncodeError:
            headers[probe.name] = value.encode("utf-8", "surrogatepass")
    if "pain" in fields.values() or "report" in path:
        world.directory.store.rate_limits.clear()  # test the validation, not only the limit
    try:
        return client.request(probe.method, url, content=content, headers=headers)
    except (httpx.LocalProtocolError, httpx.InvalidURL):
        # The client itself refuses to send it: NUL or CR/LF in a header, a URL past
        # httpx's 64 KB (uvicorn would refuse a request line that long anyway).
        return None


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.method} {p.path} {p.where}:{p.name}")
def test_hostile_values_get_4xx_or_a_normal_answer(world: World, probe: Probe) -> None:
    failures: list[str] = []
    cookies = world.console_cookies if probe.who == "console" else None
    with httpx.Client(timeout=TIMEOUT, cookies=cookies) as client:
        for value in ALL:
            try:
                answer = send(client, world, probe, value)
            except httpx.TimeoutException:
                failures.append(f"{value[:30]!r}: no answer within {TIMEOUT.read} s")
                continue
            if answer is None:
                continue
            status = answer.status_code
            kind = answer.headers.get("content-type", "")
            if status >= 500:
                failures.append(f"{value[:30]!r}: {status} {answer.text[:120]}")
            elif 400 <= status < 500:
                wanted = "text/html" if probe.is_page else "application/problem+json"
                if not kind.startswith(wanted):
                    failures.append(f"{value[:30]!r}: {status} as {kind}")
    assert not failures, "\n".join(failures)
