"""`sensate import` and `sensate npi lookup`, run through click against a real SQLite store."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from directory.cli import main
from directory.store import DirectoryStore, create_engine_for, migrate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path}/cli.db"
    migrate(url)
    return {"SENSATE_DATABASE_URL": url, "SENSATE_VAR_DIR": str(tmp_path / "var")}


def test_import_prints_the_report_and_keeps_the_rejects(env, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    args = [
        "import",
        "roster",
        str(FIXTURES / "aasect_roster.csv"),
        "--mapping",
        str(FIXTURES / "aasect_roster.toml"),
        "--rejects",
        str(rejects),
    ]

    result = CliRunner().invoke(main, args, env=env)

    assert result.exit_code == 0, result.output
    assert "created" in result.output and "4" in result.output
    assert rejects.read_text().count("\n") >= 6  # header + 5 errors (+ warnings)
    store = DirectoryStore(create_engine_for(env["SENSATE_DATABASE_URL"]))
    assert store.count_therapists() == 4

    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0
    assert store.count_therapists() == 4
    (latest, _) = store.imports.list_runs()
    assert (latest.created, latest.unchanged) == (0, 4)


def test_dry_run_and_a_missing_mapping(env) -> None:
    roster = str(FIXTURES / "aasect_roster.csv")
    result = CliRunner().invoke(main, ["import", "roster", roster], env=env)
    assert result.exit_code == 1 and "mapping" in result.output

    result = CliRunner().invoke(
        main,
        [
            "import",
            "roster",
            roster,
            "--mapping",
            str(FIXTURES / "aasect_roster.toml"),
            "--dry-run",
        ],
        env=env,
    )
    assert result.exit_code == 0 and "DRY RUN" in result.output
    store = DirectoryStore(create_engine_for(env["SENSATE_DATABASE_URL"]))
    assert store.count_therapists() == 0


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on exit: nothing listens there


def test_npi_lookup_says_clearly_when_the_registry_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"

    result = CliRunner().invoke(
        main, ["npi", "lookup", "1053975268"], env={"SENSATE_NPI_REGISTRY_URL": url}
    )

    assert result.exit_code == 2
    assert "cannot be reached" in result.output
    assert url in result.output


def test_npi_lookup_refuses_an_invalid_npi_without_asking() -> None:
    result = CliRunner().invoke(
        main, ["npi", "lookup", "1053975267", "--base-url", "http://127.0.0.1:9/"]
    )
    assert result.exit_code == 1 and "not a valid NPI" in result.output


@pytest.mark.parametrize("kind", ["nppes", "roster", "fhir", "hsds"])
def test_a_device_or_fifo_is_refused_not_read(env, tmp_path: Path, kind: str) -> None:
    """Issue 15 item 1: /dev/zero or a FIFO would hang the import or exhaust memory."""
    import os

    fifo = tmp_path / "upload.csv"
    os.mkfifo(fifo)
    mapping = ["--mapping", str(FIXTURES / "aasect_roster.toml")] if kind == "roster" else []
    for path in ("/dev/zero", str(fifo)):
        result = CliRunner().invoke(main, ["import", kind, path, *mapping], env=env)
        assert result.exit_code == 1, result.output
        assert "not a regular file" in result.output
    store = DirectoryStore(create_engine_for(env["SENSATE_DATABASE_URL"]))
    assert store.imports.list_runs() == []  # refused before a run began


def test_an_oversized_file_is_refused_by_the_setting(env, tmp_path: Path) -> None:
    big = tmp_path / "npidata_pfile_20250101-20250107.csv"
    with big.open("wb") as out:
        out.truncate(2 * 1024 * 1024)  # 2 MB of nothing, sparse
    result = CliRunner().invoke(
        main, ["import", "nppes", str(big)], env={**env, "SENSATE_IMPORT_MAX_FILE_MB": "1"}
    )
    assert result.exit_code == 1 and "larger than the import limit of 1 MB" in result.output


LEIE = FIXTURES / "leie"


def test_import_leie_reports_matches_and_a_bad_file_exits_non_zero(env) -> None:
    from directory.records import Therapist

    store = DirectoryStore(create_engine_for(env["SENSATE_DATABASE_URL"]))
    store.add_therapist(
        Therapist(
            id="a6f0c7de-0000-4000-8000-000000000001",
            first_name="Mara",
            last_name="Quillon",
            npi="1770000010",
        ),
        actor="test",
    )
    bad = CliRunner().invoke(main, ["import", "leie", str(LEIE / "bad" / "UPDATED.csv")], env=env)
    assert bad.exit_code == 1
    assert "header is not the LEIE's 18 columns" in bad.output
    assert "Nothing was written" in bad.output

    good = CliRunner().invoke(main, ["import", "leie", str(LEIE / "UPDATED.csv")], env=env)
    assert good.exit_code == 0, good.output
    assert "matched by NPI" in good.output
    [stored] = list(store.iter_therapists())
    assert [e.excluded_on.isoformat() for e in stored.exclusions] == ["2024-01-15"]
