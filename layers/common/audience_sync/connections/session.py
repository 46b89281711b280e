"""A connection's access token for one unit of work: the one way every caller gets a token and refreshes it.

A unit of work is a batcher invocation (several threads send at once), one run of the audience refresh, or one
API request (a launch, an audience read). Within it the token is read once; a request the destination refuses as
unauthorised (`Disposition.RECONNECT`) refreshes it once for everyone, whatever the number of threads that met the
refusal together; and a grant found dead (`NotConnected`) is not refreshed again by each of the next requests.
Across units of work nothing is kept: `reset` at the start of each, since a token may have been refreshed or
revoked since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from audience_sync.connections.errors import NotConnected
from audience_sync.destinations.base import DestinationError, Disposition, Failure

T = TypeVar("T")


@dataclass(frozen=True)
class AccessToken:
    """A decrypted access token and the record version it came from (what a refresh names as stale)."""

    value: str
    version: int

    def __repr__(self) -> str:  # never the token
        return f"AccessToken(version={self.version})"


class Credentials(Protocol):
    """What a session needs of a connection (connections/service.py)."""

    def access_token(self) -> AccessToken:
        """Raises NotConnected."""
        ...

    def refresh(self, stale: AccessToken | None = None) -> AccessToken:
        """Raises NotConnected (the grant is dead) or AuthorizationFailed (the OAuth server did not answer)."""
        ...

    def mark_invalid(self, reason: str) -> None: ...


class TokenSession:
    def __init__(self, credentials: Credentials, classify: Callable[[DestinationError], Failure]):
        self.credentials = credentials
        self.classify = classify  # the destination's: which refusals mean the token is no good
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._dead: NotConnected | None = None

    def reset(self) -> None:
        with self._lock:
            self._token = None
            self._dead = None

    def token(self) -> AccessToken:
        """The unit of work's token. Raises NotConnected."""
        with self._lock:
            if self._token is None:
                self._token = self.credentials.access_token()
            return self._token

    def refreshed(self, stale: AccessToken) -> AccessToken:
        """A token newer than `stale`: refreshed now, or already by another thread of this unit of work.

        Raises NotConnected when the grant is dead (and again, without asking, for the rest of the unit of work),
        AuthorizationFailed when the OAuth server did not answer."""
        with self._lock:
            if self._dead is not None:
                raise self._dead
            if self._token is not None and self._token != stale:
                return self._token
            try:
                self._token = self.credentials.refresh(stale)
            except NotConnected as dead:
                self._dead = dead
                raise
            return self._token

    def expired(self, error: Exception) -> bool:
        """Whether `error` is the destination refusing the token."""
        return isinstance(error, DestinationError) and self.classify(error).disposition is Disposition.RECONNECT

    def call(self, request: Callable[[str], T]) -> T:
        """`request(token)`, sent again once with a refreshed token if the destination refuses the token.
        Raises what `request` raises, NotConnected and AuthorizationFailed."""
        token = self.token()
        try:
            return request(token.value)
        except DestinationError as error:
            if not self.expired(error):
                raise
        return request(self.refreshed(token).value)

    def mark_invalid(self, reason: str) -> None:
        """The token was refused again after a refresh: the connection needs a person (notified once)."""
        self.credentials.mark_invalid(reason)
