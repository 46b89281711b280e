"""Credentials of the Braze-compatible API: REST API keys (Bearer, with Braze's permission names and a rate limit)
and data import keys (a partner's client secret for cohort imports). Stored as hashes only (docs/security.md)."""
