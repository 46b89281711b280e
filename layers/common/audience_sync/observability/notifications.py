"""Integration errors, published to the integration-errors topic (the deployment's equivalent of the product's error
e-mails). Adapter: adapters/aws/sns.py.

A notification never carries user data: only step ids, error codes, counts and what to do about it. Publishing is
best effort: a failed notification is logged, and never fails or repeats a sync.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

ADVICE = {
    "invalid_token": "Reconnect LinkedIn (GET /v1/connections/linkedin/authorize); waiting users sync after that.",
    "ad_account_access": "Give the connected member a non-viewer role on the ad account, or pick another account.",
    "audience_not_found": "The audience was deleted in LinkedIn: choose another audience and relaunch the step.",
    "users_errored": "These users were retried until the retry horizon and are counted as errored.",
    "audience_expired": "LinkedIn expired the audience (unused for 90 days) and it cannot be targeted: relaunch the "
    "step with a new audience name. Users are still sent to it meanwhile.",
    "audience_failed": "LinkedIn could not process the audience and it cannot be targeted: relaunch the step with a "
    "new audience name. Users are still sent to it meanwhile.",
    "audience_error": "LinkedIn reports an error for the audience and it cannot be targeted: check it in Campaign "
    "Manager or relaunch the step with a new audience name. Users are still sent to it meanwhile.",
    "export_failed": "A segment export failed (`reason`): check the export bucket (it exists, the stack may write to "
    "it) and ask for the export again.",
    "import_failed": "A scheduled S3 import's run could not go on (`reason`): check that its bucket exists and that "
    "the stack may read it (ImportBucket); the next run goes on where this one stopped.",
    "import_rows_failed": "A scheduled S3 import refused rows: GET /v1/imports/{import_id}/runs lists each by file, "
    "line and reason.",
    "export_callback_failed": "The export is done but its callback_endpoint did not take the callback: read the "
    "export's files (GET /v1/exports/{export_id} names them) or fix the endpoint.",
}


class Notifier(Protocol):
    def notify(self, code: str, **details: Any) -> None:
        """Publish integration error `code` with `details` (ids, codes, counts: never user data). Never raises."""
        ...


def notification(code: str, at_ms: int, details: dict[str, Any]) -> tuple[str, str]:
    """The (subject, message) of a notification: the code, what to do about it, when, and the details."""
    message = {"error": code, "advice": ADVICE.get(code), "at": at_ms, **details}
    subject = f"audience-sync: {code}" + (f" on step {details['step_id']}" if "step_id" in details else "")
    return subject[:100], json.dumps(message, default=str)


class NoNotifier:
    """Where no topic is configured (the operator CLI, tests): notifications go nowhere."""

    def notify(self, code: str, **details: Any) -> None:
        return None
