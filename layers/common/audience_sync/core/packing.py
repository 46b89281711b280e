"""Packs queued users into requests. Pure: no AWS, no HTTP.

Users are grouped by sync target (destination, connection, audience, action) so one request never mixes
audiences, and each group is cut into requests of at most the target's `max_per_request` users, filled in arrival
order. Every packed user keeps a reference to the message it came from, so results map back to messages.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

DEFAULT_MAX_PER_REQUEST = 5000  # LinkedIn's, the first destination's


class Target(Protocol):
    @property
    def key(self) -> Hashable: ...


T = TypeVar("T", bound=Target)
T_co = TypeVar("T_co", bound=Target, covariant=True)


class Message(Protocol[T_co]):
    @property
    def target(self) -> T_co: ...

    @property
    def users(self) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class UserRef:
    message: int  # index into the batch's message list
    user: int  # index into that message's users


@dataclass(slots=True)
class PackedRequest(Generic[T]):
    target: T
    users: list[UserRef] = field(default_factory=list)


def pack(
    messages: Sequence[Message[T]],
    max_per_request: int | Callable[[T], int] = DEFAULT_MAX_PER_REQUEST,
    skip: AbstractSet[UserRef] = frozenset(),
) -> list[PackedRequest[T]]:
    """`max_per_request`: one limit for every target, or each target's own (its destination's); `skip`: users
    left out of every request."""
    if isinstance(max_per_request, int) and max_per_request < 1:
        raise ValueError("max_per_request must be at least 1")
    limit_of = max_per_request if callable(max_per_request) else (lambda _: max_per_request)
    limits: dict[Hashable, int] = {}
    open_requests: dict[Hashable, PackedRequest[T]] = {}
    done: list[PackedRequest[T]] = []
    for m_index, message in enumerate(messages):
        key = message.target.key
        limit = limits.get(key)
        if limit is None:
            limit = limits[key] = limit_of(message.target)
            if limit < 1:
                raise ValueError("max_per_request must be at least 1")
        for u_index in range(len(message.users)):
            if skip and UserRef(m_index, u_index) in skip:
                continue
            request = open_requests.get(key)
            if request is None:
                request = open_requests[key] = PackedRequest(target=message.target)
            request.users.append(UserRef(m_index, u_index))
            if len(request.users) == limit:
                done.append(request)
                del open_requests[key]
    done.extend(open_requests.values())
    return done


def ideal_request_count(user_counts: Iterable[int], max_per_request: int = DEFAULT_MAX_PER_REQUEST) -> int:
    """ceil(users / max) — the fewest requests any packer could use for one target."""
    total = sum(user_counts)
    return -(-total // max_per_request)
