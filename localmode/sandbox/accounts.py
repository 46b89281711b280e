"""The one sandbox member and the ad accounts it can use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MEMBER_URN = "urn:li:person:sandboxMember1"
ACCOUNT_URN_RE = re.compile(r"^urn:li:sponsoredAccount:(\d+)$")
# Suffix of ACCESS_DENIED messages: "<resource>.<METHOD>.<yyyymmdd>".
PERMISSION_STAMP = "20260101"


@dataclass(frozen=True)
class AdAccount:
    id: int
    name: str
    role: str

    @property
    def urn(self) -> str:
        return f"urn:li:sponsoredAccount:{self.id}"

    @property
    def writable(self) -> bool:
        return self.role != "VIEWER"

    def to_rest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": "ACTIVE",
            "type": "BUSINESS",
            "currency": "USD",
            "test": True,
        }

    def to_account_user(self) -> dict[str, Any]:
        return {"account": self.urn, "user": MEMBER_URN, "role": self.role}


ACCOUNTS: dict[int, AdAccount] = {
    507000001: AdAccount(507000001, "Sandbox Ads", "ACCOUNT_BILLING_ADMIN"),
    507000002: AdAccount(507000002, "Sandbox Ads (read-only)", "VIEWER"),
}


def account_for_urn(urn: object) -> AdAccount | None:
    """The member's ad account named by a ``urn:li:sponsoredAccount:N`` string, if any."""
    match = ACCOUNT_URN_RE.match(urn) if isinstance(urn, str) else None
    return ACCOUNTS.get(int(match.group(1))) if match else None
