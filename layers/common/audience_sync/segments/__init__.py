"""Segments (contract v2 §4): filters over profiles, membership kept incrementally by the profile writer."""
