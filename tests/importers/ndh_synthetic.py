"""A generated NDH-shaped bulk export (NDJSON), built from the real Plan-Net resources.

    write_ndh_bulk(folder, practitioners=200)

Writes ``Practitioner.ndjson``, ``PractitionerRole.ndjson``, ``Organization.ndjson`` and
``Location.ndjson`` as a National Directory bulk export lays them out: one resource per
line, references across files ("Practitioner/x", "Organization/y", "Location/z"). Every
resource is a copy of one of the real NPPES-derived Plan-Net resources in
``../shared/fixtures/fhir-plannet-nppes-derived`` (their shapes, extensions and quirks),
with fresh ids, valid NPIs, varied names, license numbers and street numbers. About one
practitioner in seven holds only a surgeon's taxonomy (out of the directory's scope); one
in five has a second role at another organisation; one location in ten serves two
organisations' clinicians. Roles are written in the reverse order of their practitioners,
so nothing may rely on the files lining up. Used by tests/importers/test_ndh_bulk.py and
bench/import_ndh.py.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

DERIVED = "fhir-plannet-nppes-derived"
SURGEON = {
    "system": "http://nucc.org/provider-taxonomy",
    "code": "208600000X",
    "display": "Surgery",
}


def npi_check_digit(first_nine: str) -> str:
    """The Luhn check digit over "80840" + the first nine digits (as CMS computes it)."""
    total = 0
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:  # the check digit will sit to the right: double these
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def npi_for(prefix: str, n: int) -> str:
    nine = f"{prefix}{n:0{9 - len(prefix)}d}"
    return nine + npi_check_digit(nine)


def _templates(fixtures: Path, pattern: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((fixtures / DERIVED).glob(pattern)):
        resource = json.loads(path.read_text(encoding="utf-8"))
        resource.pop("text", None)  # narrative: not data, and most of the bytes
        found.append(resource)
    return found


def write_ndh_bulk(
    folder: Path, *, practitioners: int, fixtures: Path, seed: int = 13
) -> dict[str, int]:
    """Write the four files; returns how many resources of each type, and the in-scope
    and out-of-scope practitioner counts (``in_scope`` / ``out_of_scope``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    people = _templates(fixtures, "plannet-practitioner-*.json")
    roles = _templates(fixtures, "plannet-practitionerrole-*.json")
    places = _templates(fixtures, "plannet-location-*.json")
    groups = [
        org
        for org in _templates(fixtures, "plannet-organization-*.json")
        if org.get("resourceType") == "Organization"
        and not any(
            coding.get("code") == "payer"
            for concept in org.get("type") or []
            for coding in concept.get("coding") or []
        )
    ]
    organizations = max(1, practitioners // 10)
    locations = max(1, practitioners // 5)
    counts = {"Organization": 0, "Location": 0, "Practitioner": 0, "PractitionerRole": 0}
    counts |= {"in_scope": 0, "out_of_scope": 0}
    with (folder / "Organization.ndjson").open("w", encoding="utf-8") as out:
        for k in range(organizations):
            org = copy.deepcopy(groups[k % len(groups)])
            org["id"] = f"org-{k}"
            for identifier in org.get("identifier") or []:
                if identifier.get("system") == "http://hl7.org/fhir/sid/us-npi":
                    identifier["value"] = npi_for("15", k)
            # Letters, not digits: resolution folds digits away, and two clinics of one
            # name and ZIP are one practice.
            org["name"] = f"{org.get('name', 'Clinic')} {_letters(k)}"
            out.write(json.dumps(org, separators=(",", ":")) + "\n")
            counts["Organization"] += 1
    with (folder / "Location.ndjson").open("w", encoding="utf-8") as out:
        for k in range(locations):
            place = copy.deepcopy(places[k % len(places)])
            place["id"] = f"loc-{k}"
            place["managingOrganization"] = {"reference": f"Organization/org-{k % organizations}"}
            address = place.get("address") or {}
            if address.get("line"):
                address["line"][0] = re.sub(r"^\d+", str(1 + k % 9973), address["line"][0])
            place.pop("identifier", None)  # its assigner points at the template's clinic
            out.write(json.dumps(place, separators=(",", ":")) + "\n")
            counts["Location"] += 1
    with (folder / "Practitioner.ndjson").open("w", encoding="utf-8") as out:
        for n in range(practitioners):
            template = n % len(people)
            person = copy.deepcopy(people[template])
            person["id"] = f"prac-{n}"
            for identifier in person.get("identifier") or []:
                if identifier.get("system") == "http://hl7.org/fhir/sid/us-npi":
                    identifier["value"] = npi_for("1", n)
            name = person["name"][0]
            name["family"] = f"{name.get('family', 'Doe')}{n % 997}"
            name["given"] = [rng.choice(["Ana", "Ben", "Chidi", "Dana", "Eli", "Fay", "Gus"])]
            out_of_scope = _out_of_scope(n, seed)
            for qualification in person.get("qualification") or []:
                for identifier in qualification.get("identifier") or []:
                    identifier["value"] = f"{identifier.get('value', '')}{n}"
                if out_of_scope:
                    qualification["code"] = {"coding": [dict(SURGEON)], "text": "Surgery"}
            counts["out_of_scope" if out_of_scope else "in_scope"] += 1
            out.write(json.dumps(person, separators=(",", ":")) + "\n")
            counts["Practitioner"] += 1
    # Roles in the reverse order of their practitioners, written as they are made.
    with (folder / "PractitionerRole.ndjson").open("w", encoding="utf-8") as out:
        for n in reversed(range(practitioners)):
            template = n % len(people)
            for r in range(2 if n % 5 == 0 else 1):
                role = copy.deepcopy(roles[template])
                role["id"] = f"role-{n}-{r}"
                role["practitioner"] = {"reference": f"Practitioner/prac-{n}"}
                role["organization"] = {
                    "reference": f"Organization/org-{(n + r * 7) % organizations}"
                }
                role["location"] = [{"reference": f"Location/loc-{(n + r * 3) % locations}"}]
                # Networks and services are not part of this set; only what it holds is named.
                role.pop("healthcareService", None)
                role.pop("extension", None)
                if _out_of_scope(n, seed):
                    role["specialty"] = [{"coding": [dict(SURGEON)], "text": "Surgery"}]
                out.write(json.dumps(role, separators=(",", ":")) + "\n")
                counts["PractitionerRole"] += 1
    return counts


def _letters(k: int) -> str:
    """0 → "a", 25 → "z", 26 → "ba" ...: a distinct word for each number."""
    word = ""
    while True:
        k, digit = divmod(k, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[digit] + word
        if k == 0:
            return word


def _out_of_scope(n: int, seed: int) -> bool:
    """About one practitioner in seven, the same for a practitioner and their roles."""
    return (n * 7919 + seed) % 7 == 0
