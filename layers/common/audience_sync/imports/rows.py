"""An import file read as records, from any byte offset, each with the line it starts on and the offset after it (so
a run can stop after any record and go on from there). Pure: it reads chunks of bytes, from S3 or a test.

CSV: RFC 4180 as Python's csv module reads it (a quoted cell may hold commas, quotes and line breaks), UTF-8 (a
byte-order mark allowed), the first line the header. NDJSON: one JSON object a line. A blank line is no record. A
record that cannot be read is one with an `error` (never a user value in it): bytes that are not UTF-8, a line
longer than MAX_LINE_BYTES, a CSV record with another number of cells than the header, a line that is not a JSON
object. Reading goes on with the next record.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 1024 * 1024
MAX_CELL_CHARS = 128 * 1024  # csv's own field limit (131,072)
BOM = b"\xef\xbb\xbf"


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


class _Decoded:
    """Lines as text for the csv module, noting where each record started and ended and what went wrong in it."""

    def __init__(self, raw: Iterator[tuple[bytes, int]], first_line: int):
        self.raw = raw
        self.line = first_line - 1  # the last line handed out
        self.end = 0
        self.problem: str | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        data, self.end = next(self.raw)
        self.line += 1
        if data == b"" and self.end:
            self.problem = self.problem or f"a line longer than {MAX_LINE_BYTES:,} bytes"
            return "\n"
        if self.line == 1 and data.startswith(BOM):
            data = data[len(BOM) :]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.problem = self.problem or "not UTF-8 text"
            return data.decode("utf-8", errors="replace")


def csv_header(chunks: Iterable[bytes]) -> tuple[list[str], int]:
    """The header's columns and the offset after it; Header if there is none, or it is not UTF-8 or repeats a name."""
    decoded = _Decoded(lines(chunks, 0), 1)
    try:
        columns = next(csv.reader(decoded))
    except (StopIteration, csv.Error):
        raise Header("the file has no header row") from None
    if decoded.problem:
        raise Header(f"the header: {decoded.problem}")
    if len(set(columns)) != len(columns) or not all(columns):
        raise Header("the header names a column twice, or has an empty name")
    return columns, decoded.end


def csv_records(chunks: Iterable[bytes], offset: int, first_line: int, header: list[str]) -> Iterator[Record]:
    decoded = _Decoded(lines(chunks, offset), first_line)
    reader = csv.reader(decoded)
    while True:
        start = decoded.line + 1
        decoded.problem = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield Record(start, None, "not a CSV record (a quote or a cell too long)", decoded.end, decoded.line + 1)
            continue
        if not cells:
            continue  # a blank line
        after = decoded.line + 1
        if decoded.problem:
            yield Record(start, None, decoded.problem, decoded.end, after)
        elif len(cells) != len(header):
            yield Record(start, None, f"{len(cells)} cells where the header has {len(header)}", decoded.end, after)
        else:
            yield Record(start, dict(zip(header, cells, strict=True)), None, decoded.end, after)


def ndjson_records(chunks: Iterable[bytes], offset: int, first_line: int) -> Iterator[Record]:
    number = first_line - 1
    for raw, end in lines(chunks, offset):
        number += 1
        if raw == b"":
            yield Record(number, None, f"a line longer than {MAX_LINE_BYTES:,} bytes", end, number + 1)
            continue
        data = raw[len(BOM) :] if number == 1 and raw.startswith(BOM) else raw
        if not data.strip():
            continue
        try:
            value = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            yield Record(number, None, "not UTF-8 text", end, number + 1)
            continue
        except ValueError:
            yield Record(number, None, "not JSON", end, number + 1)
            continue
        if not isinstance(value, dict):
            yield Record(number, None, "not a JSON object", end, number + 1)
            continue
        yield Record(number, value, None, end, number + 1)
