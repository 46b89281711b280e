"""Plain-text output: aligned tables and times. Stdlib only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

NONE = "-"


@dataclass(frozen=True)
class Report:
    """What a command found: `data` is printed with --json, `text` otherwise."""

    data: Any
    text: str
    exit_code: int = 0


def cell(value: Any) -> str:
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns two spaces apart; a column of numbers is right-aligned."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(t[i]) for t in texts)]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(headers))]
    lines = [_line(list(headers), widths, [False] * len(headers))]
    lines += [_line(t, widths, numeric) for t in texts]
    return "\n".join(lines)


def _line(texts: list[str], widths: list[int], numeric: list[bool]) -> str:
    padded = (t.rjust(w) if n else t.ljust(w) for t, w, n in zip(texts, widths, numeric, strict=True))
    return "  ".join(padded).rstrip()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fields(pairs: Sequence[tuple[str, Any]], indent: str = "  ") -> str:
    """`name  value` lines, the values aligned."""
    width = max((len(name) for name, _ in pairs), default=0)
    return "\n".join(f"{indent}{name.ljust(width)}  {cell(value)}".rstrip() for name, value in pairs)


def when(epoch_seconds: float | None) -> str | None:
    """An instant in UTC, to the second (ISO 8601 with a Z)."""
    if epoch_seconds is None:
        return None
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def when_ms(epoch_ms: int | None) -> str | None:
    return when(epoch_ms / 1000) if epoch_ms is not None else None


def expiry(epoch_seconds: int | None, now: float) -> str | None:
    """`2027-01-31T00:44:51Z (in 59 d)` or `… (expired)`."""
    if epoch_seconds is None:
        return None
    left = epoch_seconds - now
    if left <= 0:
        return f"{when(epoch_seconds)} (expired)"
    return f"{when(epoch_seconds)} (in {_duration(left)})"


def _duration(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{int(seconds // 86_400)} d"
    if seconds >= 3_600:
        return f"{int(seconds // 3_600)} h"
    return f"{max(1, int(seconds // 60))} min"
