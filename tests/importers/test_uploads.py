"""importers.uploads: names confined to the upload, regular files only, bounded reads,
temporary folders that never outlive their process (issue 15, items 1 and 6)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from importers import uploads
from importers.apply import ImportError_, open_source
from importers.base import split_results
from importers.fhir import FhirFormatError, parse_fhir
from importers.nppes import parse_nppes

PRACTITIONER = '{"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Secret"}]}'


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/etc/passwd", "absolute"),
        ("C:\\Windows\\win.ini", "absolute"),
        ("\\\\server\\share\\x.csv", "absolute"),
        ("../x.csv", "'..'"),
        ("tables/../../x.csv", "'..'"),
        ("tables\\..\\..\\x.csv", "'..'"),
        ("x\x00.csv", "NUL"),
        ("", "empty"),
    ],
)
def test_names_that_leave_the_upload_are_refused(tmp_path: Path, name: str, words: str) -> None:
    with pytest.raises(uploads.UnsafeUpload) as refused:
        uploads.resolve_inside(tmp_path, name, field="resources[0].path")
    assert refused.value.field == "resources[0].path"
    assert words in refused.value.message


def test_a_relative_name_resolves_inside(tmp_path: Path) -> None:
    assert uploads.resolve_inside(tmp_path, "a/b.csv", field="f") == tmp_path.resolve() / "a/b.csv"


def test_reads_are_bounded_even_when_the_file_grows(tmp_path: Path) -> None:
    file = tmp_path / "growing.csv"
    file.write_bytes(b"x" * 10)
    stream = uploads.open_binary(file, max_bytes=20)
    with file.open("ab") as more:  # grows after the size was checked
        more.write(b"y" * 100)
    with stream, pytest.raises(uploads.FileTooLarge):
        stream.read()
    exact = tmp_path / "exact.csv"
    exact.write_bytes(b"z" * 20)
    assert uploads.read_bytes(exact, max_bytes=20) == b"z" * 20


def test_bounded_reader_stops_a_stream_that_lies_about_its_size() -> None:
    reader = io.BufferedReader(uploads.BoundedReader(io.BytesIO(b"a" * 100), 50, "m", "file"))
    with pytest.raises(uploads.FileTooLarge):
        reader.read()


def test_special_files_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path, tmp_path / "fifo", Path("/dev/zero"), tmp_path / "missing"):
        with pytest.raises(uploads.UnsafeUpload):
            uploads.open_binary(path, max_bytes=1000)


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("member", ["../npidata_pfile_1.csv", "/tmp/npidata_pfile_1.csv"])
def test_zip_members_escaping_a_folder_refuse_the_archive(tmp_path: Path, member: str) -> None:
    archive = _zip(tmp_path / "nppes.zip", {member: "NPI\n"})
    with pytest.raises(ImportError_) as refused:
        open_source("nppes", archive)
    assert "member" in refused.value.field


def test_a_zip_member_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "nppes.zip", {"npidata_pfile_1.csv": "NPI," * 10_000})
    with pytest.raises(uploads.FileTooLarge):
        next(parse_nppes(archive, max_file_bytes=1000))


def test_a_device_given_as_the_file_is_refused_before_the_run() -> None:
    with pytest.raises(ImportError_) as refused:
        open_source("nppes", Path("/dev/zero"))
    assert "not a regular file" in str(refused.value)


def test_a_file_over_the_limit_is_refused_before_the_run(tmp_path: Path) -> None:
    big = tmp_path / "roster.csv"
    big.write_text("name\n" + "x\n" * 1000)
    with pytest.raises(ImportError_) as refused:
        open_source("roster", big, max_file_bytes=100)
    assert "larger than" in str(refused.value) and refused.value.field == "file"


def test_fhir_folder_reads_no_symlink_leading_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(PRACTITIONER)
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "a.json").symlink_to(outside)
    (folder / "b.json").mkdir()  # a folder named like a file: walked into (empty), no crash
    (folder / "b.json" / "d.json").symlink_to(outside)  # and confined inside subfolders too
    os.mkfifo(folder / "c.ndjson")
    # Files that cannot be read refuse a FHIR import whole (references cross files, issue 13),
    # naming each one and reading none of them.
    with pytest.raises(FhirFormatError) as refused:
        split_results(parse_fhir(folder))
    message = str(refused.value)
    for name in ("a.json", "c.ndjson", "d.json"):
        assert name in message
    assert "leads outside the upload" in message and "not a regular file" in message
    assert "Secret" not in message


def test_upload_folder_is_removed_on_every_exit(tmp_path: Path) -> None:
    with uploads.upload_folder(tmp_path) as folder:
        (folder / "data.csv").write_text("x")
    assert not folder.exists()
    with pytest.raises(RuntimeError), uploads.upload_folder(tmp_path) as folder:
        (folder / "data.csv").write_text("x")
        raise RuntimeError("the import failed")
    assert not folder.exists()
    assert list((tmp_path / uploads.UPLOADS_DIR).iterdir()) == []


def test_sweep_removes_folders_of_dead_processes_only(tmp_path: Path) -> None:
    # A child process makes an upload folder and dies without cleaning up (os._exit).
    code = (
        "import os, sys; from pathlib import Path; from importers import uploads\n"
        "held = uploads.upload_folder(Path(sys.argv[1])); folder = held.__enter__()\n"
        "(folder / 'copy.csv').write_text('a full copy of the source data')\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False, cwd=Path.cwd())
    with uploads.upload_folder(tmp_path) as mine:
        base = tmp_path / uploads.UPLOADS_DIR
        (base / "not-ours").mkdir()
        orphans = [p for p in base.iterdir() if p not in (mine, base / "not-ours")]
        assert len(orphans) == 1 and (orphans[0] / "copy.csv").exists()

        removed = uploads.sweep_upload_folders(tmp_path)

        assert removed == orphans and not orphans[0].exists()
        assert mine.exists() and (base / "not-ours").exists()
