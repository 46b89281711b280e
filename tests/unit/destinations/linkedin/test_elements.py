"""linkedin/elements.py: a queued user as one element of a BATCH_CREATE body."""

from __future__ import annotations

import json

from audience_sync.destinations.linkedin.elements import linkedin_element

KNOWN = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"


# ---- linkedin_element -------------------------------------------------------------------------
def test_element_with_every_id() -> None:
    element = linkedin_element({"x": "ext-42", "e": KNOWN, "g": "gaid", "f": "Ana", "l": "Ruiz"}, "add")
    assert element == {
        "action": "ADD",
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": KNOWN}, {"idType": "GOOGLE_AID", "idValue": "gaid"}],
        "firstName": "Ana",
        "lastName": "Ruiz",
    }
    assert "ext-42" not in json.dumps(element)  # the external id stays with us


def test_element_without_names_has_no_name_keys() -> None:
    element = linkedin_element({"x": "u", "e": KNOWN}, "remove")
    assert element == {"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": KNOWN}]}


def test_element_names_only() -> None:
    element = linkedin_element({"x": "u", "f": "Ana", "l": "Ruiz"}, "Add")
    assert element == {"action": "ADD", "userIds": [], "firstName": "Ana", "lastName": "Ruiz"}
