"""Finds secrets and personal data in log text, in every form a log line could carry them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus


@dataclass(frozen=True)
class Leak:
    kind: str  # e.g. "email", "access_token"
    line_number: int
    line: str


def forms(value: str) -> set[str]:
    """The value as written raw, lowercased (normalised emails), JSON-escaped (non-ASCII names in JSON logs)
    and URL-encoded (query strings)."""
    variants = {value, value.strip(), value.strip().lower()}
    for v in list(variants):
        variants |= {json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1], quote(v, safe=""), quote_plus(v)}
    return {v for v in variants if v}


def find_leaks(text: str, sensitive: Mapping[str, Iterable[str]], min_length: int = 6) -> list[Leak]:
    """Every line of `text` containing one of the `sensitive` values (kind -> values). Values shorter than
    `min_length` would match by chance, so they are refused: the caller must plant distinctive values."""
    needles: list[tuple[str, str]] = []
    for kind, values in sensitive.items():
        for value in values:
            if len(value.strip()) < min_length:
                raise ValueError(f"{kind} value too short to scan for reliably")
            needles += [(kind, form) for form in forms(value)]
    leaks = []
    for number, line in enumerate(text.splitlines(), start=1):
        folded = line.lower()
        for kind, needle in needles:
            if needle.lower() in folded:
                leaks.append(Leak(kind, number, line[:300]))
                break
    return leaks
