"""How a request names a user, and the keys a profile is stored and ordered under. Pure: no I/O.

A user is named by one identifier, in Braze's order of precedence: `external_id`, `user_alias` (`alias_label` and
`alias_name`), `braze_id`, `email`, `phone`. Each becomes an **identity key** ("x:<external_id>", "a:<label>:<name>",
"b:<braze_id>", "m:<email>", "p:<phone>"). A profile lives at its **home**: "x:<external_id>" once it has an
external id, else "b:<braze_id>"; every other identity key of the profile is a pointer to the home
(docs/profiles.md, "Layout").

The **group** of an identity key orders the writes: every write naming that key is queued in one FIFO message group
and applied in the order received (docs/decisions/0011-profile-writes-fifo.md).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

# Braze's limit on identifiers and names (user_attributes_object: strings of at most 255 characters).
MAX_ID_CHARS = 255
IDENTIFIERS = ("external_id", "user_alias", "braze_id", "email", "phone")


class BadIdentifier(ValueError):
    """The object names no user, or names one in a form that is not an identifier."""


@dataclass(frozen=True, slots=True)
class Identity:
    kind: str  # one of IDENTIFIERS
    key: str  # the identity key

    @property
    def is_home(self) -> bool:
        """An external id is always a profile's home; any other key may be a pointer."""
        return self.key.startswith("x:")


def external_id_key(external_id: str) -> str:
    return "x:" + external_id


def alias_key(label: str, name: str) -> str:
    # The label is quoted so that "a:b" + "c" and "a" + "b:c" cannot meet.
    return f"a:{quote(label, safe='')}:{name}"


def braze_id_key(braze_id: str) -> str:
    return "b:" + braze_id


def email_key(email: str) -> str:
    return "m:" + email.strip().lower()


def phone_key(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "p:" + digits


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadIdentifier(f"'{what}' must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise BadIdentifier(f"'{what}' is longer than {MAX_ID_CHARS} characters")
    return value


def alias_of(value: Any) -> tuple[str, str]:
    """(label, name) of a `user_alias` object."""
    if not isinstance(value, dict) or set(value) - {"alias_name", "alias_label"}:
        raise BadIdentifier("'user_alias' must be an object with 'alias_name' and 'alias_label'")
    return _text(value.get("alias_label"), "alias_label"), _text(value.get("alias_name"), "alias_name")


def identity_of(obj: dict[str, Any]) -> Identity:
    """The identifier that names the user of a /users/track object (the first present, in Braze's order)."""
    if "external_id" in obj and obj["external_id"] is not None:
        return Identity("external_id", external_id_key(_text(obj["external_id"], "external_id")))
    if "user_alias" in obj and obj["user_alias"] is not None:
        return Identity("user_alias", alias_key(*alias_of(obj["user_alias"])))
    if "braze_id" in obj and obj["braze_id"] is not None:
        return Identity("braze_id", braze_id_key(_text(obj["braze_id"], "braze_id")))
    if "email" in obj and obj["email"] is not None:
        email = _text(obj["email"], "email")
        if "@" not in email:
            raise BadIdentifier("'email' is not an email address")
        return Identity("email", email_key(email))
    if "phone" in obj and obj["phone"] is not None:
        phone = _text(obj["phone"], "phone")
        if not any(c.isdigit() for c in phone):
            raise BadIdentifier("'phone' is not a phone number")
        return Identity("phone", phone_key(phone))
    # Braze's wording (a /users/track reply captured in rudderlabs/rudder-transformer's tests).
    raise BadIdentifier("'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required")


def group_of(identity_key: str, groups: int) -> str:
    """The FIFO message group of an identity key: a stable hash, so a key always lands in the same group."""
    return f"g{zlib.crc32(identity_key.encode('utf-8')) % groups}"


def new_braze_id(seed: str) -> str:
    """A braze_id derived from `seed` (the queued message and the identity it creates): the same message creates
    the same id when it is delivered again, so a crash midway never leaves two profiles for one user."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


def alias_of_key(key: str) -> tuple[str, str]:
    """(label, name) of an alias identity key."""
    label, _, name = key[2:].partition(":")
    return unquote(label), name
