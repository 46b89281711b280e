"""The exports' file formats. Pure (the bytes go to an ObjectStream or ObjectStore).

- A user is one line of JSON (newline-delimited JSON, Braze's export objects: files to concatenate).
- A `bucket` export's file holds at most FILE_USERS users: gzip (`.gz`), or a zip (`.zip`) of one entry.
- A `url` export is one zip whose entries hold at most FILE_USERS users each, written as a stream (zipfile on an
  unseekable stream writes each entry's sizes after its data), so the zip is never whole in memory.
- A CSV is RFC 4180 (csv module), UTF-8, a header row first; a list or object value is its JSON text in one cell.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from audience_sync.exports.ports import ObjectStream

# zlib's level 6 (gzip's default) costs twice level 1's time for ~10 % smaller files of JSON users; level 5 is
# within 2 % of 6's size at ~70 % of its time (make bench, "export").
COMPRESS_LEVEL = 5


def user_line(user: dict[str, Any]) -> bytes:
    return json.dumps(user, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def entry_name(number: int) -> str:
    return f"{number:06d}.txt"


def gzip_file(lines: Iterable[bytes]) -> bytes:
    return gzip.compress(b"".join(lines), compresslevel=COMPRESS_LEVEL, mtime=0)


def zip_file(name: str, lines: Iterable[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        archive.writestr(name, b"".join(lines))
    return buffer.getvalue()


class _Unseekable(io.RawIOBase):
    """The stream zipfile writes to: it tells where it is, and cannot seek (so zipfile writes data descriptors)."""

    def __init__(self, sink: ObjectStream):
        self.sink = sink
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.sink.write(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False


class ZipStream:
    """A zip written entry by entry to a stream."""

    def __init__(self, sink: ObjectStream):
        self.archive = zipfile.ZipFile(_Unseekable(sink), "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)

    def add(self, name: str, lines: Iterable[bytes]) -> None:
        # Not force_zip64: streaming readers (Java's ZipInputStream, funzip) refuse a zip64 local header whose sizes
        # come after the data. An entry holds one file's users (5,000 profiles of at most 350 KB: under 4 GB).
        with self.archive.open(name, "w") as entry:
            for line in lines:
                entry.write(line)

    def close(self) -> None:
        """Writes the central directory (the zip is readable only after this)."""
        self.archive.close()


def csv_text(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)
