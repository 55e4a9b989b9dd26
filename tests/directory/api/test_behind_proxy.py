"""Behind a load balancer: the report limit follows the client, and only a trusted proxy's
X-Forwarded-For is believed. Real uvicorn on a loopback port, started as `sensate serve` does."""

from __future__ import annotations

import httpx

from directory.api.verification import REPORTS_PER_MINUTE
from directory.service import Directory
from tests.app_fixtures import live_server

ALICE, BOB = "203.0.113.5", "198.51.100.7"  # documentation addresses, never real clients


def report(base: str, therapist_id: str, client: str) -> int:
    answer = httpx.post(
        f"{base}/api/v1/therapists/{therapist_id}/reports",
        json={"reason": "contact", "details": "the phone number rings out"},
        headers={"X-Forwarded-For": client},
        timeout=10,
    )
    return answer.status_code


def a_therapist(directory: Directory) -> str:
    return next(directory.store.iter_therapists()).id


def test_a_trusted_proxy_gives_each_client_its_own_limit(directory: Directory) -> None:
    therapist = a_therapist(directory)
    # The tests' requests come from 127.0.0.1: here that is the trusted proxy.
    with live_server(directory, forwarded_allow_ips="127.0.0.1") as base:
        assert [report(base, therapist, ALICE) for _ in range(REPORTS_PER_MINUTE)] == [
            202
        ] * REPORTS_PER_MINUTE
        assert report(base, therapist, ALICE) == 429
        # Another patient behind the same proxy is not punished for the first one.
        assert report(base, therapist, BOB) == 202


def test_an_untrusted_peer_cannot_pick_its_address(directory: Directory) -> None:
    therapist = a_therapist(directory)
    with live_server(directory, forwarded_allow_ips="10.255.255.1") as base:
        # Each request claims a new address; all of them are 127.0.0.1 to the limiter.
        statuses = [report(base, therapist, f"192.0.2.{n}") for n in range(REPORTS_PER_MINUTE + 1)]
        assert statuses == [202] * REPORTS_PER_MINUTE + [429]
