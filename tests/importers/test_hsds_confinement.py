"""HSDS data packages read only what was uploaded (issue 15, CWE-22).

A ``datapackage.json`` names its tables by ``resources[].path``. Each test builds a small
package next to a "secret" file outside it and checks that no path in the descriptor can
make the importer read that file, open a directory, or block on a FIFO or device.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from importers.base import Reject, split_results
from importers.hsds import parse_hsds

SECRET = "id,name\nsecret-org,TOP SECRET CONTENT\n"
ORGANIZATIONS = "id,name,description\norg-1,Open Door Clinic,Counselling\n"


def package(root: Path, *paths: str) -> Path:
    """A package folder holding organizations.csv and a descriptor naming ``paths``."""
    folder = root / "package"
    folder.mkdir()
    (folder / "organizations.csv").write_text(ORGANIZATIONS)
    resources = [{"name": "organizations", "path": "organizations.csv"}]
    resources += [{"name": f"r{n}", "path": path} for n, path in enumerate(paths)]
    (folder / "datapackage.json").write_text(json.dumps({"resources": resources}))
    return folder


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    file = outside / "services.csv"  # named like an HSDS table, so it would be parsed
    file.write_text(SECRET)
    return file


def _path_rejects(rejects: list[Reject]) -> list[Reject]:
    return [r for r in rejects if r.field.startswith("resources[")]


def assert_refused(folder: Path, field: str) -> list[Reject]:
    records, rejects = split_results(parse_hsds(folder / "datapackage.json"))
    everything = json.dumps([repr(r) for r in rejects]) + json.dumps([repr(r) for r in records])
    assert "TOP SECRET" not in everything
    refused = _path_rejects(rejects)
    assert [r.field for r in refused] == [field], rejects
    assert refused[0].severity == "error" and refused[0].row == "datapackage.json"
    # The package's own table is still imported.
    assert [r.practice.name for r in records if r.practice] == ["Open Door Clinic"]
    return refused


def test_absolute_path_is_refused(tmp_path: Path, secret: Path) -> None:
    refused = assert_refused(package(tmp_path, str(secret)), "resources[1].path")
    assert "absolute" in refused[0].reason


def test_dot_dot_is_refused(tmp_path: Path, secret: Path) -> None:
    refused = assert_refused(package(tmp_path, "../outside/services.csv"), "resources[1].path")
    assert ".." in refused[0].reason


def test_symlink_leading_out_is_refused(tmp_path: Path, secret: Path) -> None:
    folder = package(tmp_path, "services.csv")
    (folder / "services.csv").symlink_to(secret)
    refused = assert_refused(folder, "resources[1].path")
    assert "outside" in refused[0].reason


def test_symlinked_folder_leading_out_is_refused(tmp_path: Path, secret: Path) -> None:
    folder = package(tmp_path, "tables/services.csv")
    (folder / "tables").symlink_to(secret.parent, target_is_directory=True)
    assert_refused(folder, "resources[1].path")


def test_a_directory_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    folder = package(tmp_path, "services.csv")
    (folder / "services.csv").mkdir()
    refused = assert_refused(folder, "resources[1].path")
    assert "not a regular file" in refused[0].reason


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    folder = package(tmp_path, "services.csv")
    os.mkfifo(folder / "services.csv")  # opening it for reading would wait for a writer
    refused = assert_refused(folder, "resources[1].path")
    assert "not a regular file" in refused[0].reason


def test_a_device_is_refused(tmp_path: Path) -> None:
    folder = package(tmp_path, "services.csv")
    (folder / "services.csv").symlink_to("/dev/zero")  # endless: would exhaust memory
    assert_refused(folder, "resources[1].path")


def test_a_nested_relative_path_inside_the_package_is_read(tmp_path: Path) -> None:
    folder = package(tmp_path, "tables/services.csv")
    (folder / "tables").mkdir()
    (folder / "tables" / "services.csv").write_text(
        "id,organization_id,name,status\nsvc-1,org-1,Intake,active\n"
    )
    records, rejects = split_results(parse_hsds(folder / "datapackage.json"))
    assert not _path_rejects(rejects)
    assert sorted(r.practice.name for r in records if r.practice) == ["Intake", "Open Door Clinic"]


def test_a_table_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    folder = package(tmp_path, "services.csv")
    (folder / "services.csv").write_text("id,name\n" + "x,y\n" * 1000)
    _, rejects = split_results(parse_hsds(folder / "datapackage.json", max_file_bytes=1000))
    refused = _path_rejects(rejects)
    assert [r.field for r in refused] == ["resources[1].path"]
    assert "larger than" in refused[0].reason
