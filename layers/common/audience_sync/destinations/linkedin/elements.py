"""The body of `POST /rest/dmpSegments/{id}/users` (BATCH_CREATE) for queued users. Pure.

docs/integrations/linkedin.md, "Elements": each element carries the user's hashed email and Android advertising
id as `userIds`, and first and last name as they are; the action is ADD or REMOVE.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from audience_sync.core.users import QueuedUser


def linkedin_element(user: QueuedUser, action: str) -> dict[str, object]:
    """One element of a `BATCH_CREATE` body for `/dmpSegments/{id}/users`."""
    user_ids = []
    if "e" in user:
        user_ids.append({"idType": "SHA256_EMAIL", "idValue": user["e"]})
    if "g" in user:
        user_ids.append({"idType": "GOOGLE_AID", "idValue": user["g"]})
    element: dict[str, object] = {"action": action.upper(), "userIds": user_ids}
    if "f" in user:
        element["firstName"] = user["f"]
        element["lastName"] = user["l"]
    return element


def encode_users_body(elements: Sequence[dict[str, object]]) -> bytes:
    """Serialise before taking a rate-limit token, so the token's time is the time the request leaves."""
    return json.dumps({"elements": list(elements)}, separators=(",", ":")).encode("utf-8")


def users_body(users: Sequence[QueuedUser], action: str) -> bytes:
    return encode_users_body([linkedin_element(user, action) for user in users])
