"""Braze's catalogue pages (`/segments/list`, `/campaigns/list`): 100 a page, by creation time. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audience_sync.core.errors import Invalid

PAGE_SIZE = 100  # Braze's


def catalogue_page(
    items: Sequence[dict[str, Any]], id_key: str, page: int, sort_direction: str
) -> list[dict[str, Any]]:
    """Page `page` of `items` ordered by `created_at` (then id), ascending or descending; Invalid for a bad page or
    direction."""
    if sort_direction not in ("asc", "desc"):
        raise Invalid("invalid_sort_direction", "sort_direction must be asc or desc")
    if page < 0:
        raise Invalid("invalid_page", "page must be a whole number from 0 to 999999")
    ordered = sorted(items, key=lambda item: (item["created_at"], item[id_key]), reverse=sort_direction == "desc")
    return ordered[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
