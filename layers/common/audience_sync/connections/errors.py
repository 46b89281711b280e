"""Errors of the connections package (not answered to a client: the pipeline turns them into waiting users)."""

from __future__ import annotations


class NotConnected(Exception):
    """No usable token: never connected, disconnected, or marked invalid. Users wait in the retry."""

    def __init__(self, status: str):
        super().__init__(f"the connection is {status}")
        self.status = status
