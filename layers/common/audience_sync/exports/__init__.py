"""Segments exported to S3 (contract v2 §7): Braze's /users/export/segment (one zip behind a presigned URL, or files
of at most 5,000 users in the customer's bucket) and the management API's CSV export. docs/exports.md."""
