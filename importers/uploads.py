"""Read only what was uploaded: the one home for opening files named by an import.

An import is given a file or a folder; some formats then name further files (an HSDS
``datapackage.json`` lists its tables, a FHIR folder holds many files, a ZIP holds members).
Those names come from whoever made the upload, so each one is checked here before anything
is opened (CWE-22):

- a name from inside a package is a relative path that stays inside the package: absolute
  paths, ``..`` segments, and symlinks that lead out of the package are refused;
- only regular files are read: a directory, FIFO, socket or device (``/dev/zero``) is
  refused without blocking (a FIFO is opened non-blocking, then checked with ``fstat`` on
  the very descriptor that will be read, so a swap between check and read cannot slip in);
- every read is bounded: a file larger than the limit (``SENSATE_IMPORT_MAX_FILE_MB``) is
  refused before reading, and a stream that grows past it (a ZIP member whose header lies)
  stops with ``FileTooLarge``.

Problems raise ``UnsafeUpload`` naming the field the bad name came from; messages quote the
name (truncated) but never the file's content. Temporary upload folders live here too:
``upload_folder`` removes its folder on every exit, and ``sweep_upload_folders`` removes the
folders of processes that died before they could.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import stat
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, BinaryIO

from importers.liveness import owner, owner_gone

MB = 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 2048 * MB  # the SENSATE_IMPORT_MAX_FILE_MB default
UPLOADS_DIR = "uploads"  # under SENSATE_VAR_DIR
# import-<owner with ":" as "_">-<random>; host names are reduced to [A-Za-z0-9.-].
_FOLDER = re.compile(r"^import-(?P<owner>[A-Za-z0-9._-]+)-[0-9a-f]{16}$")


class UnsafeUpload(ValueError):
    """A file named by an upload cannot be read; ``field`` says where the name came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FileTooLarge(UnsafeUpload):
    """A file or stream is larger than the import size limit."""


def shown(name: str | os.PathLike[str]) -> str:
    """A user-given name as it may appear in a message: quoted, escaped, truncated."""
    text = os.fspath(name)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _too_large(name: str, max_bytes: int) -> str:
    return f"{shown(name)} is larger than the import limit of {_size(max_bytes)}"


def _size(count: int) -> str:
    return f"{count / MB:g} MB" if count >= MB else f"{count} bytes"


# --- names ---------------------------------------------------------------------------------


def check_relative(name: str, *, field: str) -> PurePosixPath:
    """``name`` as a relative path with no ``..``; refuses absolute and drive paths."""
    if not name or not name.strip():
        raise UnsafeUpload(field, f"{field} is empty")
    if "\x00" in name:
        raise UnsafeUpload(field, f"{field} {shown(name)} contains a NUL character")
    windows = PureWindowsPath(name)
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or windows.drive or windows.root:
        raise UnsafeUpload(field, f"{field} {shown(name)} is absolute; name a file in the upload")
    if ".." in posix.parts:
        raise UnsafeUpload(field, f"{field} {shown(name)} uses '..'; name a file in the upload")
    return posix


def resolve_inside(root: Path, name: str, *, field: str) -> Path:
    """The file ``name`` (relative, from inside an upload) under ``root``, symlinks resolved.

    Raises UnsafeUpload when the name is absolute, uses ``..``, or resolves (through a
    symlink) to somewhere outside ``root``.
    """
    relative = check_relative(name, field=field)
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise UnsafeUpload(field, f"{field} {shown(name)} leads outside the upload")
    return target


def child_inside(folder: Path, child: Path, *, field: str) -> Path:
    """A folder's entry (from ``iterdir``), refused if a symlink takes it out of the folder."""
    return resolve_inside(folder, child.name, field=field)


# --- reading -------------------------------------------------------------------------------


class BoundedReader(io.RawIOBase):
    """A read-only stream that raises FileTooLarge before going past byte ``max_bytes``.

    The bound is on the position reached, so a seekable file (ZipFile and openpyxl seek
    about) may be re-read freely, while one that grows after its size was checked, or a
    ZIP member that inflates beyond what its header declared, stops at the limit.
    """

    def __init__(self, inner: IO[bytes], max_bytes: int, name: str, field: str) -> None:
        super().__init__()
        self._inner = inner
        self._max = max_bytes
        self._name = name
        self._field = field
        self._position = inner.tell() if inner.seekable() else 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = self._inner.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        # Ask for one byte beyond the allowance: reaching the limit exactly is fine, one
        # byte more is detected without reading further.
        allowance = max(self._max - self._position, 0)
        view = memoryview(buffer).cast("B")[: allowance + 1]
        # (None comes only from non-blocking streams, which these are not.)
        count = int(self._inner.readinto(view) or 0)  # type: ignore[attr-defined]
        if self._position + count > self._max:
            raise FileTooLarge(self._field, _too_large(self._name, self._max))
        self._position += count
        return count

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def open_binary(path: Path, *, max_bytes: int, field: str = "file") -> BinaryIO:
    """Open a regular file for bounded reading; refuses anything else without blocking.

    The returned file is buffered and seekable (ZipFile needs that); reads past
    ``max_bytes`` raise FileTooLarge.
    """
    name = path.name or str(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnsafeUpload(field, f"{field} {shown(name)} does not exist") from None
    except IsADirectoryError:
        raise UnsafeUpload(field, f"{field} {shown(name)} is not a regular file") from None
    except OSError as error:
        raise UnsafeUpload(
            field, f"{field} {shown(name)} cannot be opened ({error.strerror})"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeUpload(field, f"{field} {shown(name)} is not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(field, _too_large(name, max_bytes))
        os.set_blocking(fd, True)  # O_NONBLOCK was for opening a FIFO; a file reads plainly
        raw = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(BoundedReader(raw, max_bytes, name, field), buffer_size=MB)


def open_text(
    path: Path,
    *,
    max_bytes: int,
    field: str = "file",
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: str | None = None,
) -> io.TextIOWrapper:
    """``open_binary`` decoded as text."""
    return io.TextIOWrapper(
        open_binary(path, max_bytes=max_bytes, field=field),
        encoding=encoding,
        errors=errors,
        newline=newline,
    )


def read_bytes(path: Path, *, max_bytes: int, field: str = "file") -> bytes:
    with open_binary(path, max_bytes=max_bytes, field=field) as stream:
        return stream.read()


def read_text(path: Path, *, max_bytes: int, field: str = "file", encoding: str = "utf-8") -> str:
    """The whole file as text; UnicodeDecodeError is the caller's to report."""
    return read_bytes(path, max_bytes=max_bytes, field=field).decode(encoding)


def check_file(path: Path, *, max_bytes: int, field: str = "file", folders: bool = False) -> None:
    """Refuse a top-level upload that is not a regular file (or a folder, if ``folders``)."""
    if folders and path.is_dir():
        return
    open_binary(path, max_bytes=max_bytes, field=field).close()


# --- ZIP archives --------------------------------------------------------------------------


def zip_members(archive: zipfile.ZipFile, *, field: str = "file") -> list[zipfile.ZipInfo]:
    """The archive's file members; refuses the archive if any name is absolute or uses ``..``.

    Nothing is extracted to disk, but a member named ``../x`` says the archive was built to
    escape a folder; such an upload is not trusted at all.
    """
    members = []
    for info in archive.infolist():
        check_relative(info.filename, field=f"{field} member")
        if not info.is_dir():
            members.append(info)
    return members


def open_zip_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int, field: str = "file"
) -> io.BufferedReader:
    """A member for bounded reading: its declared size is checked, then its real one."""
    if info.file_size > max_bytes:
        raise FileTooLarge(field, _too_large(info.filename, max_bytes))
    return io.BufferedReader(
        BoundedReader(archive.open(info), max_bytes, info.filename, field), buffer_size=MB
    )


# --- temporary upload folders --------------------------------------------------------------


@contextmanager
def upload_folder(var_dir: Path) -> Iterator[Path]:
    """A fresh folder for one upload, removed on every way out (errors and cancellation too).

    Named after this process so that, if it is killed first, ``sweep_upload_folders`` at
    the next start-up knows the folder is nobody's.
    """
    base = var_dir / UPLOADS_DIR
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"import-{owner().replace(':', '_')}-{secrets.token_hex(8)}"
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_upload_folders(var_dir: Path) -> list[Path]:
    """Remove upload folders whose process on this host is gone; returns what was removed.

    Folders of live processes (other replicas sharing ``var_dir``) and of other hosts are
    left alone; unrecognised entries are never touched.
    """
    base = var_dir / UPLOADS_DIR
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    for entry in base.iterdir():
        found = _FOLDER.match(entry.name)
        if found is None or entry.is_symlink() or not entry.is_dir():
            continue
        if owner_gone(found["owner"].replace("_", ":")):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
