"""Scheduled S3 imports (contract v2 §8): delta files under a bucket prefix, each imported once in key order, each row
mapped onto a profile by an identifier and per-column strategies and applied by the profile writer. docs/imports.md."""
