"""The exports' file formats (exports/files.py): what Braze's clients and spreadsheets read back."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

from audience_sync.exports.files import ZipStream, csv_text, gzip_file, user_line, zip_file
from tests.fakes.export_fakes import FakeObjectStore

USERS: list[dict[str, Any]] = [{"external_id": "ü-1", "custom_attributes": {"a": [1, 2]}}, {"external_id": "u-2"}]


def test_a_user_is_one_line_of_json_kept_in_utf8() -> None:
    line = user_line(USERS[0])
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == USERS[0] and "ü".encode() in line


def test_gzip_and_zip_files_hold_the_lines_to_concatenate() -> None:
    lines = [user_line(u) for u in USERS]
    assert gzip.decompress(gzip_file(lines)) == b"".join(lines)
    with zipfile.ZipFile(io.BytesIO(zip_file("000000.txt", lines))) as archive:
        assert archive.namelist() == ["000000.txt"] and archive.read("000000.txt") == b"".join(lines)


def test_a_zip_streamed_entry_by_entry_is_a_valid_zip() -> None:
    store = FakeObjectStore()
    stream = store.stream("b", "k.zip", "application/zip")
    archive = ZipStream(stream)
    archive.add("000000.txt", (user_line(u) for u in USERS))
    archive.add("000001.txt", [])
    archive.close()
    stream.close()

    with zipfile.ZipFile(io.BytesIO(store.objects[("b", "k.zip")])) as read:
        assert read.testzip() is None
        assert read.namelist() == ["000000.txt", "000001.txt"]
        assert [json.loads(line) for line in read.read("000000.txt").splitlines()] == USERS
        assert read.read("000001.txt") == b""


def test_csv_cells_survive_commas_quotes_newlines_and_json_values() -> None:
    rows: list[list[Any]] = [
        ["external_id", "note", "tags", "vip", "none"],
        ["a,b", 'say "hi"\nthen', ["x", "y"], False, None],
    ]
    parsed = list(csv.reader(io.StringIO(csv_text(rows).decode("utf-8"), newline="")))
    assert parsed == [
        ["external_id", "note", "tags", "vip", "none"],
        ["a,b", 'say "hi"\nthen', '["x","y"]', "false", ""],
    ]


def test_a_streamed_entry_has_no_zip64_header_that_streaming_readers_refuse() -> None:
    """Java's ZipInputStream and funzip read a local header whose sizes follow the data only without zip64."""
    import struct

    store = FakeObjectStore()
    stream = store.stream("b", "k.zip", "application/zip")
    archive = ZipStream(stream)
    archive.add("000000.txt", (user_line(u) for u in USERS))
    archive.close()
    stream.close()
    data = store.objects[("b", "k.zip")]
    signature, _, flags, _, _, _, _, compressed, size, _, extra = struct.unpack("<IHHHHHIIIHH", data[:30])
    assert signature == 0x04034B50 and flags & 0x08  # sizes in a data descriptor after the data
    assert (compressed, size, extra) == (0, 0, 0)  # not 0xFFFFFFFF with a zip64 extra field
