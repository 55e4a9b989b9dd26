"""NPPES downloadable file (``npidata_pfile_*.csv``, or the monthly ZIP that holds it).

The full file has about 8 million rows of 329 or 330 quoted columns (about 10 GB), and
six rows in seven are out of the directory's scope. The reader is chosen for that:

- pyarrow's CSV reader, fed ``_CHUNK_BYTES`` of whole lines at a time (so memory is one
  chunk, whatever the file size), tokenises in C on every core and converts only the ~90
  columns we use (``include_columns``, all as text: NPIs, ZIPs and dates keep their zeros);
- the taxonomy filter runs on those Arrow columns (pyarrow.compute: ``starts_with`` each
  prefix, over the 15 code columns), so the rows out of scope are counted but never become
  Python objects; only the rows kept are turned into tuples and records;
- we cut the chunks ourselves rather than using ``open_csv``'s stream so that a row the
  reader refuses (wrong number of cells) is still reported with its own line number, and
  so that the ZIP member (a Python stream) and the plain file go the same way;
- a file of several chunks is parsed by forked worker processes, one per core (turning
  the rows kept into records costs ~4 times what reading the file does, and Python
  builds them on one core): this process cuts the chunks and yields the workers' answers
  in file order, the same items as when it parses alone (see _parse_in_workers).
``csv.reader`` on every row was 6.5x DuckDB's time; DuckDB itself would be a 40 MB
dependency for one file format. Column positions come from the header *by name*.

Column names differ between releases: "Provider Gender Code" became "Provider Sex Code"
and "Certification Date" was added as column 330 (2025); the "V.2" files keep the same
names. Both layouts are read by name, so either works.

What becomes what:
- rows with no taxonomy code of the directory's scope (importers/scope.toml) are counted
  as out of scope (``OutOfScope``, in bulk), not rejected;
- entity type 1 → a Therapist; entity type 2 → a Practice (``SourceRecord.organization``);
- the 15 (taxonomy, license number, license state, primary switch) groups → License
  records, primary taxonomy first, one per (state, number); the license type comes from
  the NUCC code via the vocabulary, disambiguated by the credential text (LICSW, LCSW-C);
- a deactivation date without a later reactivation → ``active = False`` (kept, not dropped,
  so the directory can retire the listing). In real files a deactivated NPI's row carries
  only the NPI and the date, so such rows are kept whatever the taxonomy filter says and
  become a nameless record with ``facts["deactivation_only"] = True``: resolution applies
  it to a listing with that NPI and never creates one from it;
- the practice-location address → a PracticeLocation; the mailing address is ignored;
- a missing or invalid NPI (Luhn check with the 80840 prefix) rejects the row.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import functools
import gc
import io
import itertools
import multiprocessing
import os
import pickle
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from directory.records import PracticeLocation, Therapist
from importers import uploads
from importers.base import (
    OutOfScope,
    ParseResult,
    Practice,
    Reject,
    SourceRecord,
    TaxonomyEntry,
    excerpt,
    file_as_of,
    licenses_from_taxonomies,
    make_record,
    placeholder_id,
    warning,
)
from importers.normalize import (
    LicenseTypeLookup,
    clean_text,
    credential_tokens,
    format_credentials,
    is_valid_npi,
    license_type_lookup,
    normalize_address,
    normalize_org_name,
    normalize_phone,
    parse_date,
    title_case_name,
)
from importers.scope import default_scope
from importers.uploads import DEFAULT_MAX_FILE_BYTES

SOURCE = "nppes"

# NUCC code prefixes of the clinicians and practices the directory lists: the one scope
# (importers/scope.toml), used here as the cheap pre-filter of an 8-million-row file.
BEHAVIOURAL_HEALTH_TAXONOMIES: tuple[str, ...] = default_scope().prefixes
# Pass as ``taxonomy_codes`` to keep every row.
ALL_TAXONOMIES: tuple[str, ...] = ("",)

GROUPS = 15
SEX_COLUMNS = ("Provider Sex Code", "Provider Gender Code")  # 2025 name first
REQUIRED_COLUMNS = ("NPI", "Entity Type Code", "Healthcare Provider Taxonomy Code_1")
# About 7,000 NPPES rows: large enough for the reader's threads, small enough to stay flat.
_CHUNK_BYTES = 4 * 2**20


class NppesFormatError(ValueError):
    """The file is not an NPPES data file (its header lacks the columns we need)."""


def parse_nppes(
    path: str | Path,
    *,
    taxonomy_codes: Iterable[str] | None = None,
    license_types: Mapping[str, Sequence[str]] | LicenseTypeLookup | None = None,
    as_of: dt.date | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> ParseResult:
    """Stream SourceRecords and Rejects from an NPPES CSV (or the ZIP it ships in).

    ``taxonomy_codes``: NUCC code prefixes to keep (default: the behavioural-health list;
    ``ALL_TAXONOMIES`` keeps every row). ``license_types``: NUCC code → license type codes
    (default: from ``directory.vocab``). ``as_of``: the snapshot date (default: from the
    file name, e.g. ``..._20181204...``). ``max_file_bytes`` bounds the CSV (in a ZIP, its
    uncompressed size); see importers.uploads. ``workers``: how many processes parse the
    blocks (1: this one alone; default: one per core for a file of several blocks, see
    _parse_in_workers); the items and their order are the same either way.
    Raises NppesFormatError before yielding anything if the header is not NPPES's.
    """
    path = Path(path)
    prefixes = BEHAVIOURAL_HEALTH_TAXONOMIES if taxonomy_codes is None else tuple(taxonomy_codes)
    # A few hundred NUCC codes over millions of rows: each looked up once per file.
    lookup: LicenseTypeLookup = functools.lru_cache(maxsize=4096)(
        license_type_lookup(license_types)
    )
    snapshot = as_of or file_as_of(path)
    with _open_binary(path, max_file_bytes) as stream:
        header_line = stream.readline()
        header = next(csv.reader([header_line.decode("utf-8-sig", "replace")]), [])
        if not header:
            raise NppesFormatError(f"{path.name} is empty")
        columns = _Columns(header)
        _check_complete(path, columns.width)
        setup = _Setup(columns, prefixes, lookup, snapshot)
        # A plain file is cut by seeking (the workers read their blocks themselves); a ZIP
        # member only inflates forwards, so its blocks are read here.
        plain = path.suffix.lower() != ".zip"
        blocks: Iterator[_Block] = _block_ranges(stream) if plain else _member_blocks(stream)
        count = _worker_count(workers)
        if count > 1:
            # Automatic: only a file of more blocks than the workers' start-up is worth
            # gets them (a ZIP's blocks read ahead to find out are held, 4 MiB each).
            ahead: list[_Block] = []
            if workers is None:
                ahead = list(itertools.islice(blocks, _PARALLEL_MIN_BLOCKS))
            if workers is not None or len(ahead) == _PARALLEL_MIN_BLOCKS:
                reader = _FileReader(path, max_file_bytes) if plain else None
                yield from _parse_in_workers(itertools.chain(ahead, blocks), setup, count, reader)
                return
            blocks = iter(ahead)
        first_line = 2  # the header is line 1
        for block in blocks:
            data = block if isinstance(block, bytes) else _read_range(stream, block)
            yield from _parse_block(first_line, data, setup)
            first_line += data.count(b"\n")


class _Setup(NamedTuple):
    """What parsing a block needs besides the block: made once per file."""

    columns: _Columns
    prefixes: tuple[str, ...]
    lookup: LicenseTypeLookup
    snapshot: dt.date


def _parse_block(
    first_line: int, block: bytes, setup: _Setup, *, use_threads: bool = True
) -> Iterator[SourceRecord | Reject | OutOfScope]:
    """Every item of one block of whole lines (its first line numbered ``first_line``), in
    file order: the same whether this process or a worker parses it."""
    if not block.strip():
        return  # blank lines only: nothing to read
    chunk = _read_block(first_line, block, setup.columns, setup.prefixes, use_threads=use_threads)
    if chunk.out_of_scope:
        yield OutOfScope(count=chunk.out_of_scope, reason="no taxonomy code in scope")
    refused = iter(chunk.rejects)
    next_refused = next(refused, None)
    for row_number, row in chunk.rows:
        while next_refused is not None and next_refused[0] < row_number:
            yield next_refused[1]  # in file order, among the rows read
            next_refused = next(refused, None)
        try:
            yield from _parse_row(row, row_number, setup.columns, setup.lookup, setup.snapshot)
        except (ValueError, IndexError) as error:  # one odd row must not stop the file
            yield Reject(row=row_number, reason=f"could not read row: {error}", raw=excerpt(row))
    if next_refused is not None:
        yield next_refused[1]
    yield from (reject for _, reject in refused)


# --- cutting the file into blocks -------------------------------------------------------

# A block (where the reading starts) is _CHUNK_BYTES and the rest of the line there; a
# ZIP member's is the bytes themselves, a plain file's its (start, end) offsets.
_Block = tuple[int, int] | bytes


def _block_ranges(stream: BinaryIO) -> Iterator[tuple[int, int]]:
    """The (start, end) offsets of the blocks after the header of a plain file, found by
    seeking: the line that ends each block is the only thing read."""
    start = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    while start < size:
        # The block ends with the line break at or after its last byte.
        stream.seek(start + _CHUNK_BYTES - 1)
        stream.readline()
        end = min(stream.tell(), size)
        yield start, end
        start = end


def _read_range(stream: BinaryIO, block: tuple[int, int]) -> bytes:
    start, end = block
    stream.seek(start)
    return _whole_lines(stream.read(end - start))


def _member_blocks(stream: BinaryIO) -> Iterator[bytes]:
    """The blocks of a stream read forwards only (a ZIP member), as bytes."""
    while True:
        block = stream.read(_CHUNK_BYTES)
        if not block:
            return
        if not block.endswith(b"\n"):
            block += stream.readline()  # finish the last line: blocks hold whole rows
        yield _whole_lines(block)


def _whole_lines(block: bytes) -> bytes:
    # The last line of a ZIP member may lack its line break (a plain file was checked whole).
    return block if block.endswith(b"\n") else block + b"\n"


def _chunks(stream: BinaryIO, columns: _Columns, prefixes: tuple[str, ...]) -> Iterator[_Chunk]:
    """A plain file after its header, block by block, filtered (the reader alone, for the
    bench)."""
    first_line = 2
    for block in _block_ranges(stream):
        data = _read_range(stream, block)
        if data.strip():
            yield _read_block(first_line, data, columns, prefixes)
        first_line += data.count(b"\n")


# --- both cores -------------------------------------------------------------------------

# A file of at least this many blocks (~16 MiB, ~14,000 rows) is parsed by worker processes.
_PARALLEL_MIN_BLOCKS = 4
# A worker's collector runs after this many allocations (the default is 700): see _start_worker.
_WORKER_COLLECT_EVERY = 50_000
# Workers beyond the cores would only take turns; each holds its own memos (~100 MiB full).
_MAX_WORKERS = 4


def _worker_count(workers: int | None) -> int:
    """How many worker processes: ``workers`` if given, else one per core this process may
    use (up to _MAX_WORKERS). 1 means this process alone; so does a platform where
    ``fork`` is not the safe default (see _parse_in_workers), and a daemonic process
    (multiprocessing lets it have no children)."""
    if sys.platform != "linux" or multiprocessing.current_process().daemon:
        return 1
    if workers is not None:
        return max(1, workers)
    return min(_MAX_WORKERS, len(os.sched_getaffinity(0)))


class _FileReader:
    """A worker's own handle on the plain file: opened in the worker, since a descriptor
    inherited through the fork shares its offset with this process's (whose seeks cut
    the blocks meanwhile)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._stream: BinaryIO | None = None

    def read(self, block: tuple[int, int]) -> bytes:
        if self._stream is None:
            self._stream = uploads.open_binary(self.path, max_bytes=self.max_bytes)
        return _read_range(self._stream, block)


# In a worker process: the file's _Setup and reader, from the fork (see _start_worker).
_worker_state: tuple[_Setup, _FileReader | None] | None = None

# A block's items as a worker answers: its number of lines, and the items (encoded, see
# _encode_items) numbered as if the block's first line were line 0: the worker cannot
# know how many lines came before.
_Answer = tuple[int, bytes]


def _parse_in_workers(
    blocks: Iterator[_Block], setup: _Setup, workers: int, reader: _FileReader | None
) -> ParseResult:
    """The items of every block, in file order, each block parsed by a worker process.

    This process cuts the file into blocks (a plain file by seeking, without reading it),
    hands them out, and yields the answers in order, adding to each row number the lines
    of the blocks before (the one thing the order of answers tells); at most two blocks
    per worker are in flight, so memory stays flat however long the file.

    The workers are forked, not spawned: a fork starts in milliseconds with the modules
    imported and the memos as warm as here, where a spawned worker took ~1 s and ~180 MiB
    to import everything again. Forking after pyarrow has started its threads is safe
    since Arrow 11 (its thread pools re-create themselves in the child); the workers read
    with ``use_threads=False`` all the same, the cores being theirs already. What else a
    fork copies (an import's database connections, its heartbeat's state) a worker never
    touches, and it ends with ``os._exit`` (multiprocessing's way), so no finalizer of
    this process's objects runs there.
    """
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(setup, reader)
    ) as pool:
        pending: collections.deque[Future[_Answer]] = collections.deque()
        first_line = 2  # the header is line 1
        try:
            for block in blocks:
                pending.append(pool.submit(_worker_block, block))
                while len(pending) >= 2 * workers or (pending and pending[0].done()):
                    lines, items = pending.popleft().result()
                    yield from _decode_items(items, first_line)
                    first_line += lines
            while pending:
                lines, items = pending.popleft().result()
                yield from _decode_items(items, first_line)
                first_line += lines
        finally:
            for future in pending:  # the caller stopped early: drop the blocks not begun
                future.cancel()


def _start_worker(setup: _Setup, reader: _FileReader | None) -> None:
    global _worker_state
    _worker_state = (setup, reader)
    # What the fork brought (modules, memos) lives as long as the worker: the collector
    # need not scan it again and again, nor touch (and so copy) its pages. A block makes
    # some 50,000 objects, almost none in a cycle: collecting young objects every 700
    # allocations (the default) only looks at records about to be encoded and dropped.
    gc.freeze()
    gc.set_threshold(_WORKER_COLLECT_EVERY)


def _worker_block(block: _Block) -> _Answer:
    assert _worker_state is not None, "a worker's state comes from _start_worker"
    setup, reader = _worker_state
    if isinstance(block, bytes):
        data = block
    else:
        assert reader is not None, "a plain file's blocks come with its reader"
        data = reader.read(block)
    return data.count(b"\n"), _encode_items(_parse_block(0, data, setup, use_threads=False))


# --- a worker's answer, encoded -----------------------------------------------------------
#
# MessagePack (msgspec) and not pickle: on the NPPES records, encoding took ~5 us a record
# against pickle's ~25, decoding ~20 against ~30 (pickle rebuilds each keyword-only struct
# through a Python call). MessagePack has no date type and ``facts`` is typed
# ``dict[str, object]``, so a date among the facts travels as an extension value and
# comes back a date; a block with a fact of any other type (none so far) goes as pickle,
# so that nothing comes back changed.

_DATE = 1  # the extension code of a date: its proleptic ordinal, 4 bytes
_PLAIN_FACTS = frozenset({str, bool, int, float, type(None), dt.date, list})
_KINDS = {SourceRecord: ord("S"), Reject: ord("R"), OutOfScope: ord("O")}
_Items = tuple[bytes, list[SourceRecord], list[Reject], list[OutOfScope]]
_encoder = msgspec.msgpack.Encoder()


def _from_extension(code: int, data: memoryview) -> object:
    if code != _DATE:
        raise ValueError(f"unknown MessagePack extension {code}")
    return dt.date.fromordinal(int.from_bytes(data, "little"))


_decoder = msgspec.msgpack.Decoder(_Items, ext_hook=_from_extension)


def _encode_items(items: Iterable[SourceRecord | Reject | OutOfScope]) -> bytes:
    """A worker's items as bytes: b"M" and the MessagePack of (the items' kinds in order,
    the records, the rejects, the out-of-scope counts), or b"P" and a pickle."""
    kept = list(items)
    kinds = bytearray()
    lists: dict[int, list[object]] = {kind: [] for kind in _KINDS.values()}
    for item in kept:
        kind = _KINDS[type(item)]
        kinds.append(kind)
        if isinstance(item, SourceRecord):
            facts = item.facts
            if not all(_plain_fact(value) for value in facts.values()):
                return b"P" + pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
            # The record is this worker's and goes no further: its facts may change form.
            item.facts = {key: _date_extension(value) for key, value in facts.items()}
        lists[kind].append(item)
    return b"M" + _encoder.encode(
        (
            bytes(kinds),
            lists[_KINDS[SourceRecord]],
            lists[_KINDS[Reject]],
            lists[_KINDS[OutOfScope]],
        )
    )


def _plain_fact(value: object) -> bool:
    if type(value) not in _PLAIN_FACTS:
        return False
    return not isinstance(value, list) or all(type(part) is str for part in value)


def _date_extension(value: object) -> object:
    if type(value) is dt.date:
        return msgspec.msgpack.Ext(_DATE, value.toordinal().to_bytes(4, "little"))
    return value


def _without_collector(decode: Callable[[memoryview], _Items], data: memoryview) -> _Items:
    """``decode(data)`` with the cyclic collector paused: a block decodes into some 20,000
    new objects, none in a cycle, and the collections they set off (each one a look at
    everything young) took about a third of this process's time in the parallel parse."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return decode(data)
    finally:
        if paused:
            gc.enable()


def _decode_items(data: bytes, first_line: int) -> Iterator[SourceRecord | Reject | OutOfScope]:
    """A worker's items (see _encode_items), in its order, with the file's row numbers:
    ``first_line`` is the line the worker numbered 0."""
    if data[:1] == b"P":
        items: Iterable[SourceRecord | Reject | OutOfScope] = pickle.loads(data[1:])
    else:
        kinds, records, rejects, out_of_scope = _without_collector(
            _decoder.decode, memoryview(data)[1:]
        )
        by_kind: dict[int, Iterator[SourceRecord | Reject | OutOfScope]] = {
            _KINDS[SourceRecord]: iter(records),
            _KINDS[Reject]: iter(rejects),
            _KINDS[OutOfScope]: iter(out_of_scope),
        }
        items = (next(by_kind[kind]) for kind in kinds)
    for item in items:
        if isinstance(item, SourceRecord):
            item.row = first_line + int(item.row)  # a fresh copy, decoded: ours to change
            yield item
        elif isinstance(item, Reject):
            yield msgspec.structs.replace(item, row=first_line + int(item.row))
        else:
            yield item  # OutOfScope counts rows and names none


class _Chunk:
    """One block of the file, filtered: rows in scope (numbered), bad rows, a count of the rest."""

    def __init__(
        self,
        rows: Iterable[tuple[int, Sequence[str]]],
        rejects: list[tuple[int, Reject]],
        out_of_scope: int,
    ) -> None:
        self.rows = rows
        self.rejects = rejects
        self.out_of_scope = out_of_scope


def _read_block(
    first_line: int,
    block: bytes,
    columns: _Columns,
    prefixes: tuple[str, ...],
    *,
    use_threads: bool = True,
) -> _Chunk:
    """One block read by pyarrow and filtered: the rows in scope as tuples, numbered."""
    names = [f"c{position}" for position in range(columns.width)]
    selected = [names[position] for position in columns.selected]
    convert = pa_csv.ConvertOptions(
        include_columns=selected,
        column_types={name: pa.string() for name in selected},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        # Checked here instead, only on the rows kept: see _python_column.
        check_utf8=False,
    )
    invalid: list[str] = []

    def skip(row: pa_csv.InvalidRow) -> str:
        invalid.append(row.text.rstrip("\r"))
        return "skip"

    table = pa_csv.read_csv(
        pa.py_buffer(block),
        read_options=pa_csv.ReadOptions(
            column_names=names, block_size=2**20, use_threads=use_threads
        ),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=skip),
        convert_options=convert,
    )
    numbers = _line_numbers(block, first_line, table.num_rows, invalid)
    keep = _in_scope(table, columns, prefixes)
    kept = pc.indices_nonzero(keep)
    rejects = [
        (
            number,
            Reject(
                row=number,
                reason=f"row has {len(next(csv.reader([text]), []))} columns "
                f"but the header has {columns.width}",
                raw=excerpt(text),
            ),
        )
        for number, text in numbers.invalid
    ]
    chosen = table.take(kept)
    cells = [_python_column(chosen.column(name)) for name in selected]
    row_numbers = [numbers.valid(index) for index in kept.to_pylist()]
    return _Chunk(
        zip(row_numbers, zip(*cells, strict=True), strict=True),
        rejects,
        table.num_rows - len(row_numbers),
    )


class _LineNumbers:
    """File line numbers of a chunk's parsed rows, and of the rows the parser refused."""

    def __init__(
        self, first_line: int, valid_lines: list[int] | None, invalid: list[tuple[int, str]]
    ) -> None:
        self.first_line = first_line
        self._valid_lines = valid_lines
        self.invalid = invalid

    def valid(self, index: int) -> int:
        if self._valid_lines is None:
            return self.first_line + index
        return self._valid_lines[index]


def _line_numbers(block: bytes, first_line: int, parsed: int, invalid: list[str]) -> _LineNumbers:
    """Which line each parsed row came from.

    In the common case every line of the chunk is a row, and the row's number follows from
    its position. Only when the parser skipped a line (a blank one, or one with the wrong
    number of cells) are the lines matched one by one, so each reject names its own row.
    """
    if block.count(b"\n") == parsed and not invalid:
        return _LineNumbers(first_line, None, [])
    refused = Counter(invalid)
    valid_lines: list[int] = []
    refused_lines: list[tuple[int, str]] = []
    for offset, raw_line in enumerate(block.split(b"\n")[:-1]):
        text = raw_line.rstrip(b"\r").decode("utf-8", "replace")
        if not text.strip():
            continue
        if refused[text] > 0:
            refused[text] -= 1
            refused_lines.append((first_line + offset, text))
        else:
            valid_lines.append(first_line + offset)
    return _LineNumbers(first_line, valid_lines, refused_lines)


def _in_scope(table: pa.Table, columns: _Columns, prefixes: tuple[str, ...]) -> pa.ChunkedArray:
    """Rows with a taxonomy code in scope, or a deactivated NPI's bare row: computed a
    column at a time, so the 86% of rows out of scope never become Python objects.

    A code is in scope if it starts with one of the prefixes: one ``starts_with`` a prefix
    (bytes compared) beats one regular expression of them all (RE2 sets up a match per
    cell): a 4 MiB chunk's filter took 5-7 ms instead of 8-11. ``present``: the prefix ""
    (keep every row) must not keep a row for its empty code columns.
    """
    taxonomy = [table.column(position) for position in columns.taxonomy_codes]
    has_code = [pc.not_equal(column, "") for column in taxonomy]
    in_scope = functools.reduce(
        pc.or_,
        (
            pc.and_(
                present,
                functools.reduce(pc.or_, (pc.starts_with(column, prefix) for prefix in prefixes)),
            )
            for present, column in zip(has_code, taxonomy, strict=True)
        ),
    )
    if columns.deactivation_date is None:
        return in_scope
    deactivated = pc.not_equal(pc.utf8_trim_whitespace(table.column(columns.deactivation_date)), "")
    if columns.reactivation_date is not None:
        reactivated = pc.not_equal(
            pc.utf8_trim_whitespace(table.column(columns.reactivation_date)), ""
        )
        deactivated = pc.and_(deactivated, pc.invert(reactivated))
    no_code = pc.invert(functools.reduce(pc.or_, has_code))
    return pc.or_(in_scope, pc.and_(deactivated, no_code))


def _python_column(column: pa.ChunkedArray) -> list[str]:
    """A column of kept rows as Python text. A byte that is not UTF-8 becomes U+FFFD
    instead of failing the file: one badly encoded byte must not end an 8-million-row
    import (the rows out of scope are never decoded at all)."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        raw = column.cast(pa.binary()).to_pylist()
        return [value.decode("utf-8", "replace") for value in raw]


# The columns the parser reads, besides the taxonomy groups and the sex code: every other
# column of the 330 is left unconverted by the CSV reader (include_columns).
READ_COLUMNS = (
    "NPI",
    "Entity Type Code",
    "Replacement NPI",
    "Provider Organization Name (Legal Business Name)",
    "Provider Last Name (Legal Name)",
    "Provider First Name",
    "Provider Middle Name",
    "Provider Name Prefix Text",
    "Provider Name Suffix Text",
    "Provider Credential Text",
    "Provider Other Organization Name",
    "Provider First Line Business Practice Location Address",
    "Provider Second Line Business Practice Location Address",
    "Provider Business Practice Location Address City Name",
    "Provider Business Practice Location Address State Name",
    "Provider Business Practice Location Address Postal Code",
    "Provider Business Practice Location Address Country Code (If outside U.S.)",
    "Provider Business Practice Location Address Telephone Number",
    "Provider Enumeration Date",
    "Last Update Date",
    "NPI Deactivation Reason Code",
    "NPI Deactivation Date",
    "NPI Reactivation Date",
    "Authorized Official Last Name",
    "Authorized Official First Name",
    "Is Sole Proprietor",
    "Certification Date",
)


class _Columns:
    """Positions of the columns read, by header name, resolved once per file.

    A row as the parser sees it holds only the selected columns (``selected`` gives their
    positions in the file, in row order); every position below is one in that short row.
    """

    def __init__(self, header: list[str]) -> None:
        names = [" ".join(name.replace("\ufeff", "").split()) for name in header]
        self.width = len(names)
        in_file = {name.lower(): position for position, name in enumerate(names)}
        missing = [name for name in REQUIRED_COLUMNS if name.lower() not in in_file]
        if missing:
            raise NppesFormatError(f"not an NPPES data file: the header lacks {', '.join(missing)}")
        wanted = [*READ_COLUMNS, *SEX_COLUMNS]
        for n in range(1, GROUPS + 1):
            wanted += [
                f"Healthcare Provider Taxonomy Code_{n}",
                f"Provider License Number_{n}",
                f"Provider License Number State Code_{n}",
                f"Healthcare Provider Primary Taxonomy Switch_{n}",
            ]
        present = [name.lower() for name in dict.fromkeys(wanted) if name.lower() in in_file]
        self.selected = sorted(in_file[name] for name in present)
        short = {position: at for at, position in enumerate(self.selected)}
        self._index = {name: short[in_file[name]] for name in present}
        self._unread = set(in_file) - set(present)
        self.sex = next(
            (self._index[name.lower()] for name in SEX_COLUMNS if name.lower() in self._index), None
        )
        self.groups: list[tuple[int, int | None, int | None, int | None]] = []
        for n in range(1, GROUPS + 1):
            code = self.find(f"Healthcare Provider Taxonomy Code_{n}")
            if code is None:
                break
            self.groups.append(
                (
                    code,
                    self.find(f"Provider License Number_{n}"),
                    self.find(f"Provider License Number State Code_{n}"),
                    self.find(f"Healthcare Provider Primary Taxonomy Switch_{n}"),
                )
            )
        # The report's names of each group's number and state fields, made once, not per row.
        self.group_fields = [
            (f"Provider License Number_{n}", f"Provider License Number State Code_{n}")
            for n in range(1, len(self.groups) + 1)
        ]
        self.taxonomy_codes = [group[0] for group in self.groups]
        self.deactivation_date = self.find("NPI Deactivation Date")
        self.reactivation_date = self.find("NPI Reactivation Date")
        # Every row asks for some twenty columns by name: resolved here once.
        self._at = {name: self.find(name) for name in READ_COLUMNS}

    def find(self, name: str) -> int | None:
        key = name.lower()
        if key in self._unread:
            raise KeyError(f"column {name!r} is not read: add it to READ_COLUMNS")
        return self._index.get(key)

    def get(self, row: Sequence[str], name: str) -> str:
        """The cell under ``name``, trimmed; "" when the column is absent from this release."""
        index = self._at[name] if name in self._at else self.find(name)
        return row[index].strip() if index is not None else ""


def _deactivation_only(row: Sequence[str], columns: _Columns) -> bool:
    """A deactivated NPI's row: a deactivation date, no reactivation and no taxonomy."""
    return (
        bool(_cell(row, columns.deactivation_date))
        and not _cell(row, columns.reactivation_date)
        and not any(row[index] for index in columns.taxonomy_codes)
    )


def _cell(row: Sequence[str], index: int | None) -> str:
    return row[index].strip() if index is not None else ""


def _parse_row(
    row: Sequence[str],
    row_number: int,
    columns: _Columns,
    lookup: LicenseTypeLookup,
    snapshot: dt.date,
) -> Iterator[SourceRecord | Reject]:
    get = columns.get
    npi = get(row, "NPI")
    if not npi:
        yield Reject(row=row_number, reason="NPI is missing", raw=excerpt(row), field="NPI")
        return
    if not is_valid_npi(npi):
        yield Reject(
            row=row_number,
            reason=f"NPI {npi!r} is not a valid NPI (check digit)",
            raw=excerpt(row),
            field="NPI",
        )
        return
    if _deactivation_only(row, columns):
        yield _deactivation_record(row, row_number, columns, npi, snapshot)
        return
    entity = get(row, "Entity Type Code")
    if entity not in ("1", "2"):
        yield Reject(
            row=row_number,
            reason=f"Entity Type Code {entity!r} is neither 1 nor 2",
            raw=excerpt(row),
            field="Entity Type Code",
        )
        return

    warnings: list[Reject] = []
    facts: dict[str, object] = {"npi": npi}

    active, dates = _activity(row, row_number, columns, warnings)
    facts.update(dates)
    facts["active"] = active

    location = _practice_location(row, row_number, columns, npi, warnings)
    phone = location.phone if location else ""
    tokens = credential_tokens(get(row, "Provider Credential Text"))
    taxonomies, licenses, license_facts, problems = licenses_from_taxonomies(
        _taxonomy_entries(row, columns),
        source=SOURCE,
        external_id=npi,
        row=row_number,
        credentials=tokens,
        lookup=lookup,
    )
    warnings.extend(problems)
    facts.update(license_facts)
    facts["taxonomies"] = taxonomies

    if entity == "2":
        name = normalize_org_name(get(row, "Provider Organization Name (Legal Business Name)"))
        if not name:
            yield Reject(
                row=row_number,
                reason="organisation has no legal business name",
                raw=excerpt(row),
                field="Provider Organization Name (Legal Business Name)",
            )
            return
        other = normalize_org_name(get(row, "Provider Other Organization Name"))
        practice = Practice(
            id=placeholder_id(SOURCE, npi),
            name=name,
            npi=npi,
            other_names=[other] if other and other != name else [],
            phone=phone,
            locations=[location] if location else [],
            licenses=licenses,
            taxonomies=taxonomies,
            active=active,
        )
        facts["authorized_official"] = " ".join(
            filter(
                None,
                (
                    title_case_name(get(row, "Authorized Official First Name")),
                    title_case_name(get(row, "Authorized Official Last Name")),
                ),
            )
        )
        yield from warnings
        yield make_record(
            source=SOURCE,
            external_id=npi,
            as_of=snapshot,
            row=row_number,
            practice=practice,
            extra_facts=facts,
        )
        return

    first = title_case_name(get(row, "Provider First Name"))
    last = title_case_name(get(row, "Provider Last Name (Legal Name)"))
    if not last:
        yield Reject(
            row=row_number,
            reason="Provider Last Name (Legal Name) is missing",
            raw=excerpt(row),
            field="Provider Last Name (Legal Name)",
        )
        return
    therapist = Therapist(
        languages=[],  # no language unless the source names one
        id=placeholder_id(SOURCE, npi),
        first_name=first,
        last_name=last,
        credentials_text=format_credentials(tokens),
        npi=npi,
        phone=phone,
        locations=[location] if location else [],
        licenses=licenses,
        active=active,
    )
    # Facts without a field of their own: kept for resolution and review, never guessed
    # into fields (NPPES records sex, not the gender a clinician lists in the directory).
    facts.update(
        {
            "middle_name": title_case_name(get(row, "Provider Middle Name")),
            "name_prefix": clean_text(get(row, "Provider Name Prefix Text")),
            "name_suffix": clean_text(get(row, "Provider Name Suffix Text")),
            "credentials_raw": get(row, "Provider Credential Text"),
            "sex": _cell(row, columns.sex),
            "sole_proprietor": get(row, "Is Sole Proprietor"),
        }
    )
    yield from warnings
    yield make_record(
        source=SOURCE,
        external_id=npi,
        as_of=snapshot,
        row=row_number,
        therapist=therapist,
        extra_facts=facts,
    )


def _deactivation_record(
    row: Sequence[str], row_number: int, columns: _Columns, npi: str, snapshot: dt.date
) -> SourceRecord | Reject:
    """A nameless record saying only "this NPI is deactivated since ..."."""
    raw = columns.get(row, "NPI Deactivation Date")
    try:
        deactivated_on = parse_date(raw, ("%m/%d/%Y",))
    except ValueError as error:
        return Reject(
            row=row_number,
            reason=f"NPI Deactivation Date: {error}",
            raw=excerpt(row),
            field="NPI Deactivation Date",
        )
    therapist = Therapist(
        languages=[],  # no language unless the source names one
        id=placeholder_id(SOURCE, npi),
        first_name="",
        last_name="",
        npi=npi,
        active=False,
    )
    return make_record(
        source=SOURCE,
        external_id=npi,
        as_of=snapshot,
        row=row_number,
        therapist=therapist,
        extra_facts={
            "active": False,
            "deactivated_on": deactivated_on,
            "deactivation_reason": columns.get(row, "NPI Deactivation Reason Code"),
            "deactivation_only": True,
        },
    )


_DATE_COLUMNS = (
    ("enumeration_date", "Provider Enumeration Date"),
    ("last_updated", "Last Update Date"),
    ("deactivated_on", "NPI Deactivation Date"),
    ("reactivated_on", "NPI Reactivation Date"),
    ("certification_date", "Certification Date"),
)
_NPPES_DATE = ("%m/%d/%Y",)


def _activity(
    row: Sequence[str], row_number: int, columns: _Columns, warnings: list[Reject]
) -> tuple[bool, dict[str, object]]:
    """Whether the NPI is active, from its deactivation and reactivation dates."""
    parsed: dict[str, dt.date | None] = {}
    for fact, column in _DATE_COLUMNS:
        raw = columns.get(row, column)
        if not raw:
            parsed[fact] = None  # what parse_date says of a blank, without asking it
            continue
        try:
            parsed[fact] = parse_date(raw, _NPPES_DATE)
        except ValueError as error:
            warnings.append(warning(row_number, column, f"{column}: {error}", raw))
    dates: dict[str, object] = dict(parsed)
    deactivated = parsed.get("deactivated_on")
    reactivated = parsed.get("reactivated_on")
    # NPPES keeps the deactivation date after a reactivation, so compare the two.
    active = deactivated is None or (reactivated is not None and reactivated >= deactivated)
    replacement = columns.get(row, "Replacement NPI")
    if replacement:
        dates["replacement_npi"] = replacement
    return active, dates


def _practice_location(
    row: Sequence[str], row_number: int, columns: _Columns, npi: str, warnings: list[Reject]
) -> PracticeLocation | None:
    prefix = "Provider Business Practice Location Address "
    get = columns.get
    address, problems = normalize_address(
        line1=get(row, "Provider First Line Business Practice Location Address"),
        line2=get(row, "Provider Second Line Business Practice Location Address"),
        city=get(row, prefix + "City Name"),
        state=get(row, prefix + "State Name"),
        postal_code=get(row, prefix + "Postal Code"),
        country=get(row, prefix + "Country Code (If outside U.S.)"),
    )
    part_columns = {"city": "City Name", "state": "State Name", "postal_code": "Postal Code"}
    for part, message in problems:
        column = prefix + part_columns[part]
        warnings.append(
            warning(row_number, column, f"practice location {message}", get(row, column))
        )
    raw_phone = get(row, prefix + "Telephone Number")
    phone = normalize_phone(raw_phone)
    if raw_phone and phone is None:
        warnings.append(
            warning(
                row_number,
                prefix + "Telephone Number",
                f"practice location telephone {raw_phone!r} is not a phone number",
                raw_phone,
            )
        )
    if address is None:
        return None
    return PracticeLocation(
        id=placeholder_id(SOURCE, npi, "practice-location"),
        address=address,
        phone=phone or "",
    )


def _taxonomy_entries(row: Sequence[str], columns: _Columns) -> list[TaxonomyEntry]:
    entries = []
    for (code_at, number_at, state_at, switch_at), (number_field, state_field) in zip(
        columns.groups, columns.group_fields, strict=True
    ):
        code = row[code_at]
        if not code:
            continue  # most of the 15 groups are empty
        code = code.strip().upper()
        if code:
            entries.append(
                TaxonomyEntry(
                    code=code,
                    license_number=_cell(row, number_at),
                    state=_cell(row, state_at),
                    primary=_cell(row, switch_at).upper() == "Y",
                    number_field=number_field,
                    state_field=state_field,
                )
            )
    return entries


# Far longer than any NPPES row (about 1-3 KB), so the tail holds the whole last row.
_TAIL_BYTES = 256 * 1024


def _check_complete(path: Path, width: int) -> None:
    """Refuse a CSV cut off in transfer before any row of it is imported.

    A complete file ends with a line break after a full row. Checking the tail first costs
    one seek; finding out at the end would leave the first millions of rows written. (In a
    ZIP, a cut-off archive has no central directory, and zipfile refuses it on opening.)
    """
    if path.suffix.lower() == ".zip":
        return
    with path.open("rb") as raw:
        size = raw.seek(0, io.SEEK_END)
        raw.seek(max(0, size - _TAIL_BYTES))
        tail = raw.read()
    if not tail.endswith(b"\n"):
        raise NppesFormatError(
            f"{path.name} is truncated: it ends in the middle of a row; download it again"
        )
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
    cells = next(csv.reader([last]), [])
    if 0 < len(cells) < width:
        raise NppesFormatError(
            f"{path.name} is truncated: its last row has {len(cells)} of {width} columns; "
            "download it again"
        )


@contextmanager
def _open_binary(path: Path, max_bytes: int) -> Iterator[BinaryIO]:
    """Open the CSV, or the npidata member of a monthly NPPES ZIP, as a bounded byte stream.

    Both are bounded reads of a regular file (importers.uploads); a ZIP with a member named
    to escape a folder (``../x``, ``/x``) is refused whole.
    """
    if path.suffix.lower() == ".zip":
        opened = uploads.open_binary(path, max_bytes=max_bytes)
        try:
            archive_file = zipfile.ZipFile(opened)
        except zipfile.BadZipFile as error:
            opened.close()
            raise NppesFormatError(
                f"{path.name} is not a readable ZIP archive (truncated download?): {error}"
            ) from None
        with opened, archive_file as archive:
            members = [
                info
                for info in uploads.zip_members(archive)
                if PurePosixPath(info.filename).name.lower().startswith("npidata_pfile")
                and "fileheader" not in info.filename.lower()
                and info.filename.lower().endswith(".csv")
            ]
            if not members:
                raise NppesFormatError(f"{path.name} holds no npidata_pfile_*.csv")
            with uploads.open_zip_member(archive, members[0], max_bytes=max_bytes) as raw:
                yield raw
        return
    with uploads.open_binary(path, max_bytes=max_bytes) as stream:
        yield stream
