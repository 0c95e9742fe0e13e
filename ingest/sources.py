"""Reading source files: JSONL and CSV exports, line by line, with line numbers.

A file that cannot be parsed at all (not UTF-8, a CSV without the expected
header, a JSONL file without a single JSON object) raises `SourceFileError`
before anything is written; a single bad line is reported by the loader and
skipped.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from retrieval.records import Source

_PREFLIGHT_CHUNK = 1 << 20
CSV_CHUNK_ROWS = 50_000


class SourceFileError(ValueError):
    """A source file that cannot be read at all; nothing from it is loaded."""


@dataclass(frozen=True)
class RawLine:
    line: int
    data: dict | None
    error: str | None = None


def check_parseable(path: Path, source: Source) -> int:
    """Raise SourceFileError when `path` cannot be read as `source` at all; else return its line count."""
    lines = _check_utf8(path)
    if path.suffix == ".csv":
        _check_csv_header(path, source)
    else:
        _check_some_json_object(path)
    return lines


def _check_utf8(path: Path) -> int:
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_PREFLIGHT_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise SourceFileError(f"{path.name}: not UTF-8 text (byte {offset + exc.start})") from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SourceFileError(f"{path.name}: not UTF-8 text (truncated at the end)") from None
    return lines


def _check_csv_header(path: Path, source: Source) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    required = {name for name, field in source.model.model_fields.items() if field.is_required()}
    missing = sorted(required - set(header or []))
    if missing:
        raise SourceFileError(f"{path.name}: header lacks the column(s) {', '.join(missing)}")


def _check_some_json_object(path: Path) -> None:
    blank = True
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            blank = False
            try:
                if isinstance(orjson.loads(raw), dict):
                    return
            except orjson.JSONDecodeError:
                continue
    if not blank:
        raise SourceFileError(f"{path.name}: no line is a JSON object; expected one JSON object per line")


def read_lines(path: Path) -> Iterator[RawLine]:
    """Yield every record of a JSONL or CSV file with its 1-based line number."""
    if path.suffix == ".csv":
        yield from _read_csv(path)
    else:
        yield from _read_jsonl(path)


def _read_jsonl(path: Path) -> Iterator[RawLine]:
    with path.open("rb") as handle:
        yield from json_lines((number, raw) for number, raw in enumerate(handle, start=1))


def json_lines(numbered: Iterable[tuple[int, bytes]]) -> Iterator[RawLine]:
    """Each non-blank JSONL line, parsed, with its line number."""
    for number, raw in numbered:
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield RawLine(number, None, f"not valid JSON ({exc})")
            continue
        if isinstance(data, dict):
            yield RawLine(number, data)
        else:
            yield RawLine(number, None, "not a JSON object")


@dataclass(frozen=True)
class CsvChunk:
    """Consecutive records of a CSV file: the header, each record's raw values and the line it ends on."""

    header: list[str]
    lines: list[int]
    rows: list[list[str]]


def read_csv_chunks(path: Path, rows_per_chunk: int | None = None) -> Iterator[CsvChunk]:
    """The records of a CSV file, `rows_per_chunk` (CSV_CHUNK_ROWS) at a time; blank lines are skipped."""
    rows_per_chunk = rows_per_chunk or CSV_CHUNK_ROWS
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        lines: list[int] = []
        rows: list[list[str]] = []
        for row in reader:
            if row:
                rows.append(row)
                lines.append(reader.line_num)
                if len(rows) >= rows_per_chunk:
                    yield CsvChunk(header, lines, rows)
                    lines, rows = [], []
        if rows:
            yield CsvChunk(header, lines, rows)


def csv_line_chunks(path: Path, numbered: list[tuple[int, bytes]],
                    rows_per_chunk: int | None = None) -> Iterator[CsvChunk]:
    """Chunks of the given lines of a CSV file (each one whole record), with the file's header."""
    rows_per_chunk = rows_per_chunk or CSV_CHUNK_ROWS
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    for start in range(0, len(numbered), rows_per_chunk):
        part = numbered[start : start + rows_per_chunk]
        rows = list(csv.reader(text.decode("utf-8") for _, text in part))
        kept = [(number, row) for (number, _), row in zip(part, rows, strict=True) if row]
        yield CsvChunk(header, [number for number, _ in kept], [row for _, row in kept])


def csv_raw_line(header: list[str], line: int, row: list[str]) -> RawLine:
    """One CSV record as the loader validates it: named values, empty cells left out."""
    if len(row) > len(header):
        return RawLine(line, None, "more values than header columns")
    return RawLine(line, {key: value for key, value in zip(header, row) if value != ""})


def _read_csv(path: Path) -> Iterator[RawLine]:
    for chunk in read_csv_chunks(path):
        for line, row in zip(chunk.lines, chunk.rows, strict=True):
            yield csv_raw_line(chunk.header, line, row)
