"""The destinations this platform can send to, by name. Their implementations are built by the composition root
(composition/destinations.py), which only the functions that send or read a destination import: the ingest never
loads a destination's HTTP client."""

from __future__ import annotations

from typing import Literal, get_args

# A step config's `destination` (and v1's `partner`): the destinations with audiences. Adding a destination: its
# package under destinations/, its construction in composition/destinations.py, and a name here if steps may sync
# to it. The outbound webhook has no audiences: campaigns send to it (campaigns/delivery.py), never a step.
DestinationName = Literal["linkedin"]
DEFAULT_DESTINATION: DestinationName = "linkedin"

NAMES: tuple[str, ...] = get_args(DestinationName)
