"""LinkedIn Matched Audiences: the first implementation of `Destination` (destinations/base.py).

Authorization is LinkedIn's OAuth 2.0 (oauth.py) with the member's ad accounts; audiences are DMP segments
(audiences.py); a request is a BATCH_CREATE of up to 5,000 users (elements.py) whose every element has its own
status; failures are classified by errors.py; the retry policy is the product's: 30 s doubling to 1 h, 13 h in all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import (
    SYNCED,
    Account,
    DestinationError,
    Failure,
    Limits,
    Outcome,
    SyncTarget,
    TokenGrant,
)
from audience_sync.destinations.linkedin.audiences import LinkedInAudiences
from audience_sync.destinations.linkedin.client import ElementResult, LinkedInApi, LinkedInClient
from audience_sync.destinations.linkedin.elements import users_body
from audience_sync.destinations.linkedin.errors import LinkedInError, classify, element_retried, reason
from audience_sync.destinations.linkedin.oauth import OAuthClient, authorization_url
from audience_sync.destinations.linkedin.settings import LinkedInSettings

USABLE_ROLES = frozenset({"ACCOUNT_BILLING_ADMIN", "ACCOUNT_MANAGER", "CAMPAIGN_MANAGER", "CREATIVE_MANAGER"})


def element_outcome(result: ElementResult) -> Outcome:
    """A user's outcome from its element's result: a 4xx ends only that user; throttles and 5xx retry."""
    if 200 <= result.status < 300:
        return SYNCED
    if element_retried(result.status):
        return Outcome("retry", f"linkedin_element_{result.status}")
    return Outcome("errored", f"linkedin_{result.status}_{(result.code or 'invalid_element').lower()}")


class LinkedInAuthorization:
    """The `Authorization` of LinkedIn: OAuth 2.0 with the member's ad accounts and roles."""

    def __init__(self, settings: LinkedInSettings, client: LinkedInApi, oauth: OAuthClient):
        self.settings = settings
        self.client = client
        self.oauth = oauth

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return authorization_url(self.settings.oauth_url, self.settings.client_id, redirect_uri, state)

    def exchange(self, code: str, redirect_uri: str) -> TokenGrant:
        return self.oauth.exchange_code(code, redirect_uri)

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self.oauth.refresh(refresh_token)

    def accounts(self, access_token: str) -> list[Account]:
        accounts = []
        for element in self.client.ad_account_users(access_token):
            account_id = str(element.get("account", "")).rsplit(":", 1)[-1]
            if not account_id:
                continue
            role = str(element.get("role", ""))
            try:
                name = str(self.client.ad_account(access_token, account_id).get("name") or "")
            except LinkedInError:
                name = ""  # a name is nice to have; the account is still listed
            accounts.append(Account(account_id, name or f"Ad account {account_id}", role, role in USABLE_ROLES))
        return accounts


class LinkedInDestination:
    name = "linkedin"
    label = "LinkedIn"
    metric_prefix = "LinkedIn"

    def __init__(
        self,
        settings: LinkedInSettings,
        client_secret: str | Callable[[], str] = "",
        client: LinkedInApi | None = None,
        oauth: OAuthClient | None = None,
    ):
        self.settings = settings
        self.client: LinkedInApi = client or LinkedInClient(settings.api_url, settings.version)
        oauth = oauth or OAuthClient(settings.oauth_url, settings.client_id, client_secret)
        self.limits = Limits(settings.max_elements, settings.requests_per_second)
        self.retry_policy = RetryPolicy(horizon_seconds=settings.retry_horizon_seconds)
        self.authorization = LinkedInAuthorization(settings, self.client, oauth)
        self.audiences = LinkedInAudiences(self.client, settings.source_platform)

    def encode(self, users: Sequence[QueuedUser], target: SyncTarget) -> bytes:
        return users_body(users, target.action)

    def send(self, credential: str, target: SyncTarget, body: bytes, count: int) -> list[Outcome]:
        results = self.client.send_users(credential, target.audience_id, body, count)
        return [element_outcome(result) for result in results]

    def classify(self, error: DestinationError) -> Failure:
        return Failure(classify(error.status), reason(error), error.retry_after_seconds)
