"""Validation of request bodies: dmpSegment creation and BATCH_CREATE user elements."""

from __future__ import annotations

import re
from typing import Any

from localmode.sandbox.accounts import AdAccount, account_for_urn

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX128 = re.compile(r"^[0-9a-f]{128}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_MAX_LEN = {"firstName": 35, "lastName": 35, "title": 50, "company": 50}
SEGMENT_TYPES = ("USER", "COMPANY")

# A member identity: sorted ((idType, idValue), ...) pairs, or ("NAME", first, last) for name-only elements.
Identity = tuple[Any, ...]


def segment_create_error(body: Any) -> tuple[str | None, AdAccount | None]:
    """Check a ``POST /dmpSegments`` body; returns (error message or None, the member's account)."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object", None
    name = body.get("name")
    account = account_for_urn(body.get("account"))
    checks = [
        (isinstance(name, str) and bool(name.strip()), "name is required and must be a non-empty string"),
        (account is not None, "account must be urn:li:sponsoredAccount:{id} of an ad account of the member"),
        (body.get("type") in SEGMENT_TYPES, "type must be one of USER, COMPANY"),
        (
            body.get("destinations") == [{"destination": "LINKEDIN"}],
            'destinations must be [{"destination": "LINKEDIN"}]',
        ),
    ]
    checks += [
        (field not in body or isinstance(body[field], str), f"{field} must be a string")
        for field in ("sourcePlatform", "sourceSegmentId", "description")
    ]
    return next((message for ok, message in checks if not ok), None), account


def _user_id_error(index: int, user_id: Any) -> str | None:
    if not isinstance(user_id, dict):
        return f"userIds[{index}] must be an object with idType and idValue"
    id_type, value = user_id.get("idType"), user_id.get("idValue")
    if not isinstance(value, str):
        return f"userIds[{index}].idValue must be a string"
    if id_type == "SHA256_EMAIL":
        ok = bool(_HEX64.match(value))
        rule = "64 lowercase hexadecimal characters"
    elif id_type == "SHA512_EMAIL":
        ok = bool(_HEX128.match(value))
        rule = "128 lowercase hexadecimal characters"
    elif id_type == "GOOGLE_AID":
        ok = 0 < len(value) <= 64
        rule = "a non-empty string of at most 64 characters"
    else:
        return f"userIds[{index}].idType {id_type!r} is not supported"
    return None if ok else f"userIds[{index}].idValue for {id_type} must be {rule}"


def _fields_error(element: dict[str, Any], has_user_ids: bool) -> str | None:
    for field, limit in _MAX_LEN.items():
        value = element.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{field} must be a string of at most {limit} characters"
    country = element.get("country")
    if country is not None and (not isinstance(country, str) or not _COUNTRY.match(country)):
        return "country must be an ISO 3166-1 alpha-2 code in upper case, e.g. US"
    if not has_user_ids and not (element.get("firstName") and element.get("lastName")):
        return "firstName and lastName are required when no userIds are given"
    return None


def element_error(element: Any) -> str | None:
    """Why a ``/users`` element is invalid, or None if it is valid."""
    if not isinstance(element, dict):
        return "Element must be a JSON object"
    if element.get("action") not in ("ADD", "REMOVE"):
        return "action must be ADD or REMOVE"
    user_ids = element.get("userIds")
    if user_ids is None:
        user_ids = []
    if not isinstance(user_ids, list):
        return "userIds must be a list of {idType, idValue}"
    errors = (_user_id_error(index, user_id) for index, user_id in enumerate(user_ids))
    return next((e for e in errors if e), None) or _fields_error(element, bool(user_ids))


def identity(element: dict[str, Any]) -> Identity:
    """The member identity of a valid element."""
    pairs = sorted({(u["idType"], u["idValue"]) for u in element.get("userIds") or []})
    if pairs:
        return tuple(pairs)
    return ("NAME", element["firstName"], element["lastName"])


def member_record(element: dict[str, Any]) -> dict[str, Any]:
    """What the control API shows for a member added by a valid element."""
    pairs = sorted({(u["idType"], u["idValue"]) for u in element.get("userIds") or []})
    record: dict[str, Any] = {"userIds": [{"idType": t, "idValue": v} for t, v in pairs]}
    for field in ("firstName", "lastName"):
        if element.get(field):
            record[field] = element[field]
    return record
