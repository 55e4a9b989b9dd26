"""Schemathesis against the running API (issue 15, item 7): the OpenAPI document describes
what the API does, checked by every Schemathesis check on generated requests.

The app runs under uvicorn on a loopback port as ``sensate serve`` runs it
(tests/app_fixtures.py ``live_server``, in this folder's conftest), and the Schemathesis
CLI (4.x: ``st run``) tests it once per identity, one test module each (anonymous,
verifier, admin), so that the runs can go to different test processes. Each identity runs
the operations whose role it is, as the document names them (``security`` lists the role
an operation needs; none for the public ones): public search, profiles and matching
behave the same whatever key comes with them, and an admin may do what a verifier does
through the same handlers, so running every operation as every identity sent the same
generated requests three times over. What a key of too low a role, or none, is answered
(401, 403, documented) is tests/directory/api/test_auth_matrix.py's, for every guarded
operation. ``--checks all``, a fixed seed and 25 examples per operation; the run must end
with no failure. The only configuration is schemathesis.toml beside this file, which says
why some operations may answer 422 to a request of the right shape (data rules no schema
can state: unknown ZIP codes, file formats, cross-field rules).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from directory.service import Directory
from tests.directory.api.verif_helpers import documented_roles, make_key

pytest.importorskip("schemathesis")  # skips the test modules that import this one

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
SEED = 15
EXAMPLES = 25


def operations_of(base_url: str, identity: str) -> list[str]:
    """The operations ("GET /api/v1/therapists") whose role is ``identity``'s, from the
    document: those with no ``security`` for "anonymous", else those needing that role."""
    document = httpx.get(f"{base_url}/schema/openapi.json", timeout=30).json()
    wanted = set() if identity == "anonymous" else {identity}
    return [
        f"{method} {path}"
        for (method, path), roles in documented_roles(document).items()
        if roles == wanted
    ]


def assert_schemathesis_finds_no_failure(
    directory: Directory, base_url: str, identity: str, tmp_path: Path
) -> None:
    """Run every Schemathesis check against ``base_url`` as ``identity`` (a key of that
    role, or none for "anonymous"); no failure may be found."""
    assert ST is not None, "the schemathesis CLI (st) is not installed"
    command = [
        ST,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/schema/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    operations = operations_of(base_url, identity)
    assert operations, f"the document names no operation for {identity}"
    for name in operations:
        command += ["--include-name", name]
    if identity != "anonymous":
        header = make_key(directory.store, f"schemathesis-{identity}", identity)
        command += ["--header", f"Authorization: {header['Authorization']}"]
    directory.store.rate_limits.clear()
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
    )
    summary = run.stdout[-6000:]
    assert run.returncode == 0, f"schemathesis as {identity} failed:\n{summary}\n{run.stderr}"
    assert "No issues found" in run.stdout or " passed" in run.stdout, summary
