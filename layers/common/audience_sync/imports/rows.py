"""An import file read as records, from any byte offset, each with the line it starts on and the offset after it (so
a run can stop after any record and go on from there). Pure: it reads chunks of bytes, from S3 or a test.

CSV: RFC 4180, UTF-8 (a byte-order mark allowed), LF or CRLF line breaks, the first line the header. A quoted cell may
hold commas, quotes and line breaks, so a record is the lines up to the one that closes its quotes; a record whose
quotes are still open after MAX_RECORD_LINES lines (or at the end of the file) is one bad row, "an unclosed quote", at
its first line, and reading goes on from its second line: one broken quote costs one row, not the rest of the file.
Each record is then split into cells by Python's csv module. NDJSON: one JSON object a line.

A blank line is no record. A record that cannot be read is one with an `error` (never a user value in it): bytes that
are not UTF-8 (or, in NDJSON, text no UTF-8 can hold: a lone surrogate), a line longer than MAX_LINE_BYTES, an
unclosed quote, a CSV record with another number of cells than the header or lines broken by CR alone, a line that is
not a JSON object or nests too deep. Reading goes on with the next record.
"""

from __future__ import annotations

import csv
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 1024 * 1024
MAX_RECORD_LINES = 100  # lines one quoted CSV record may span
MAX_HEADER_BYTES = 64 * 1024  # the header is kept in the run's state (a DynamoDB item of 400 KB)
BOM = b"\xef\xbb\xbf"
LONG_LINE = f"a line longer than {MAX_LINE_BYTES:,} bytes"


@dataclass(frozen=True)
class Record:
    line: int  # 1-based: where the record starts in the file
    cells: dict[str, Any] | None  # column -> value (CSV: text)
    error: str | None
    end: int  # the byte offset after the record: where the next one starts
    next_line: int  # the line the next record starts on


class Header(ValueError):
    """A CSV file whose header cannot be read: the file cannot be imported."""


def lines(chunks: Iterable[bytes], offset: int) -> Iterator[tuple[bytes, int]]:
    """Raw lines (their line break kept) and the offset after each; a line over MAX_LINE_BYTES comes as b"" (its
    bytes dropped, its end kept)."""
    pending = bytearray()
    position = offset
    dropping = False
    for chunk in chunks:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            piece = chunk[start:] if newline < 0 else chunk[start : newline + 1]
            position += len(piece)
            if not dropping:
                pending += piece
                if len(pending) > MAX_LINE_BYTES:
                    pending.clear()
                    dropping = True
            if newline < 0:
                break
            yield (b"" if dropping else bytes(pending)), position
            pending.clear()
            dropping = False
            start = newline + 1
    if pending or dropping:
        yield (b"" if dropping else bytes(pending)), position


@dataclass(frozen=True)
class _Text:
    line: int
    text: str | None  # None: unreadable (`problem`)
    problem: str | None
    end: int
    next_line: int


def _csv_texts(chunks: Iterable[bytes], offset: int, first_line: int) -> Iterator[_Text]:
    """The file's CSV records as text, each the lines up to the one closing its quotes (module docstring)."""
    source = lines(chunks, offset)
    pushed: deque[tuple[int, bytes, int]] = deque()  # lines read ahead, to read again
    counter = first_line - 1

    def pull() -> tuple[int, bytes, int] | None:
        nonlocal counter
        if pushed:
            return pushed.popleft()
        found = next(source, None)
        if found is None:
            return None
        counter += 1
        return counter, found[0], found[1]

    while True:
        first = pull()
        if first is None:
            return
        taken = [first]
        quotes = first[1].count(b'"')
        while quotes % 2 and len(taken) < MAX_RECORD_LINES:
            more = pull()
            if more is None:
                break
            taken.append(more)
            quotes += more[1].count(b'"')
        number, _, end = taken[-1]
        if quotes % 2:  # still open: the first line alone is the bad row; the others are read again
            pushed.extendleft(reversed(taken[1:]))
            yield _Text(first[0], None, "an unclosed quote", first[2], first[0] + 1)
            continue
        if any(data == b"" for _, data, _ in taken):
            yield _Text(first[0], None, LONG_LINE, end, number + 1)
            continue
        raw = b"".join(data for _, data, _ in taken)
        if first[0] == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            yield _Text(first[0], raw.decode("utf-8"), None, end, number + 1)
        except UnicodeDecodeError:
            yield _Text(first[0], None, "not UTF-8 text", end, number + 1)


def _cells(text: str) -> list[str] | None:
    """One record's cells; None if the text holds more than one record (lines broken by CR alone)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0] if len(rows) == 1 else ([] if not rows else None)


def csv_header(chunks: Iterable[bytes]) -> tuple[list[str], int]:
    """The header's columns and the offset after it; Header if there is none or it cannot be read."""
    for record in _csv_texts(chunks, 0, 1):
        if record.text is None:
            raise Header(f"the header: {record.problem}")
        if not record.text.strip():
            raise Header("the file has no header row (its first line is blank)")
        if record.end > MAX_HEADER_BYTES:
            raise Header(f"the header is longer than {MAX_HEADER_BYTES // 1024} KB")
        columns = _cells(record.text)
        if columns is None:
            raise Header("the header holds line breaks of CR alone: use LF or CRLF")
        return columns, record.end
    raise Header("the file is empty")


def csv_records(chunks: Iterable[bytes], offset: int, first_line: int, header: list[str]) -> Iterator[Record]:
    for record in _csv_texts(chunks, offset, first_line):
        at = (record.line, record.end, record.next_line)
        if record.text is None:
            yield Record(at[0], None, record.problem, at[1], at[2])
            continue
        if not record.text.strip():
            continue  # a blank line
        cells = _cells(record.text)
        if cells is None:
            yield Record(at[0], None, "line breaks of CR alone: use LF or CRLF", at[1], at[2])
        elif len(cells) != len(header):
            yield Record(at[0], None, f"{len(cells)} cells where the header has {len(header)}", at[1], at[2])
        else:
            yield Record(at[0], dict(zip(header, cells, strict=True)), None, at[1], at[2])


def ndjson_records(chunks: Iterable[bytes], offset: int, first_line: int) -> Iterator[Record]:
    number = first_line - 1
    for raw, end in lines(chunks, offset):
        number += 1
        if raw == b"":
            yield Record(number, None, LONG_LINE, end, number + 1)
            continue
        data = raw[len(BOM) :] if number == 1 and raw.startswith(BOM) else raw
        if not data.strip():
            continue
        error = None
        try:
            value = json.loads(data.decode("utf-8"))
            # JSON may escape a lone surrogate ("\ud800"), which no UTF-8 text (nor DynamoDB) can hold
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeError:
            error = "not UTF-8 text"
        except RecursionError:
            error = "JSON nested too deep"
        except ValueError:
            error = "not JSON"
        if error is None and not isinstance(value, dict):
            error = "not a JSON object"
        yield Record(number, None if error else value, error, end, number + 1)
