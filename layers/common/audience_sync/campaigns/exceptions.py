"""Campaigns' own errors (each a domain error of core/errors.py, so the edge maps it to HTTP like the others)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from audience_sync.core.errors import Unprocessable


class PublishInvalid(Unprocessable):
    """A campaign cannot be published as it stands; `details` lists every problem, each `{"field", "code",
    "message"}` (422)."""

    def __init__(self, problems: Sequence[Mapping[str, str]]):
        super().__init__("publish_invalid", "the campaign cannot be published", problems)


class UserBusy(Exception):
    """A user's previous entry into a campaign that lets users in again is still being acted on (in another
    invocation, or earlier in this one that failed): this activity is judged when it is delivered again, after it."""
