"""Packs queued users into LinkedIn requests. Pure: no AWS, no HTTP.

Users are grouped by sync target (connection, audience, action) so one request never mixes audiences,
and each group is cut into requests of at most `max_per_request` users, filled in arrival order.
Every packed user keeps a reference to the message it came from, so results map back to messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from audience_sync.pipeline.messages import QueuedMessage, SyncTarget

LINKEDIN_MAX_ELEMENTS = 5000


@dataclass(frozen=True, slots=True)
class UserRef:
    message: int  # index into the batch's message list
    user: int  # index into that message's users


@dataclass(slots=True)
class PackedRequest:
    target: SyncTarget
    users: list[UserRef] = field(default_factory=list)


def pack(messages: Sequence[QueuedMessage], max_per_request: int = LINKEDIN_MAX_ELEMENTS) -> list[PackedRequest]:
    if max_per_request < 1:
        raise ValueError("max_per_request must be at least 1")
    open_requests: dict[tuple[str, str, str], PackedRequest] = {}
    done: list[PackedRequest] = []
    for m_index, message in enumerate(messages):
        key = message.target.key
        for u_index in range(len(message.users)):
            request = open_requests.get(key)
            if request is None:
                request = open_requests[key] = PackedRequest(target=message.target)
            request.users.append(UserRef(m_index, u_index))
            if len(request.users) == max_per_request:
                done.append(request)
                del open_requests[key]
    done.extend(open_requests.values())
    return done


def ideal_request_count(user_counts: Iterable[int], max_per_request: int = LINKEDIN_MAX_ELEMENTS) -> int:
    """ceil(users / max) — the fewest requests any packer could use for one target."""
    total = sum(user_counts)
    return -(-total // max_per_request)
