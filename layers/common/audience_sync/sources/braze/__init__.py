"""The Braze-compatible API: what partners (Segment, Lytics, BlueConic, scripts) send as they would to Braze."""
