"""Two verifiers edit the same credential at the same moment: one wins, one gets 412.

Both read the credential (same version), wait at a barrier, then write with that version in
If-Match from two threads. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from directory.service import Directory
from tests.directory.api.verif_helpers import fresh_client, if_match, make_key, small_directory
from tests.factories import make_therapist

TODAY = dt.date.today()


@pytest.fixture
def directory(database_url: str, tmp_path: Path) -> Iterator[Directory]:
    built = small_directory(database_url, tmp_path / "var")
    yield built
    built.stop()


@pytest.fixture
def client(directory: Directory) -> Iterator[TestClient]:
    yield from fresh_client(directory)


def verify(
    client: TestClient,
    url: str,
    key: dict[str, str],
    name: str,
    version: int,
    round_no: int,
    barrier: threading.Barrier,
) -> tuple[int, dict[str, Any]]:
    body = {
        "kind": "license",
        "source": f"board, checked by {name}",
        "verified_on": TODAY.isoformat(),
        "evidence": f"lookup by {name}, round {round_no}",
        "status_found": "active",
        "reason": f"{name} round {round_no}",
    }
    barrier.wait()  # both have read the same version; now both write
    response = client.post(url + "/verifications", json=body, headers=if_match(key, version))
    return response.status_code, response.json()


@pytest.mark.parametrize("rounds", [5])
def test_two_verifiers_one_wins_the_other_gets_412(
    client: TestClient, directory: Directory, rounds: int
) -> None:
    keys = {
        "ana": make_key(directory.store, "ana", "verifier"),
        "ben": make_key(directory.store, "ben", "verifier"),
    }
    t = directory.store.add_therapist(make_therapist(), actor="test")
    lic = t.licenses[0]
    url = f"/api/v1/therapists/{t.id}/credentials/{lic.id}"
    for round_no in range(rounds):
        version = client.get(url, headers=keys["ana"]).json()["version"]
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {
                name: pool.submit(verify, client, url, keys[name], name, version, round_no, barrier)
                for name in keys
            }
            results = {name: future.result() for name, future in futures.items()}
        statuses = sorted(status for status, _ in results.values())
        assert statuses == [201, 412], results
        # The loser is told the version the winner made.
        loser = next(body for status, body in results.values() if status == 412)
        assert loser["current_version"] == version + 1

    # The audit log holds exactly what happened: one event per round, by the winner, and
    # the credential's latest check and the verification log agree with it.
    events = [e for e in directory.store.history(t.id) if e.action == "license.verify"]
    assert len(events) == rounds
    winners = [name for e in events for name in keys if e.reason.startswith(name)]
    assert len(winners) == rounds
    log = directory.store.verification.verification_log(t.id)
    assert [entry.reason for entry in log] == [e.reason for e in events]
    assert [entry.verified_by for entry in log] == winners
    assert [e.actor for e in events] == winners
    final = directory.store.verification.get_credential(t.id, lic.id)
    assert final is not None and final.version == 1 + rounds
    stored = directory.store.get_therapist(t.id)
    assert stored is not None and stored.licenses[0].verification is not None
    assert stored.licenses[0].verification.verified_by == winners[-1]
