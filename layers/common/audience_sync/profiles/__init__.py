"""User profiles: what the Braze-compatible API writes and reads (docs/profiles.md).

`identity` names a user, `values` and `attributes` check and apply attribute updates, `activity` keeps custom
events and purchases, `track` plans a /users/track request into queued operations, `operations` is their queued
form, `writer` applies them exactly once in order, `reader` serves exports. Storage is behind `ports`.
"""
