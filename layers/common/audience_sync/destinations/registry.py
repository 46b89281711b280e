"""The destinations this platform can send to, by name, each imported only when a function needs it (the ingest
never loads a destination's HTTP client)."""

from __future__ import annotations

import importlib
from typing import Literal, get_args

# A step config's `destination` (and v1's `partner`): the destinations with audiences. Adding a destination: its
# package under destinations/, an entry below, and a name here if steps may sync to it. The outbound webhook has
# no audiences: campaigns send to it (campaigns/delivery.py), never a step.
DestinationName = Literal["linkedin"]
DEFAULT_DESTINATION: DestinationName = "linkedin"

# name -> "module:factory"; the factory takes the destination's settings and secrets (composition.py builds them).
IMPLEMENTATIONS: dict[str, str] = {
    "linkedin": "audience_sync.destinations.linkedin.destination:LinkedInDestination",
    "webhook": "audience_sync.destinations.webhook.destination:WebhookDestination",
}

NAMES: tuple[str, ...] = get_args(DestinationName)


def implementation(name: str) -> type:
    """The class implementing destination `name`; KeyError for an unknown name."""
    module, _, attribute = IMPLEMENTATIONS[name].partition(":")
    found: type = getattr(importlib.import_module(module), attribute)
    return found
