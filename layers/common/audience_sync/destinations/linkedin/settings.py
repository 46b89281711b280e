"""What the LinkedIn destination is configured with (read from the environment by settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from audience_sync.core.backoff import DEFAULT_HORIZON_SECONDS

MAX_ELEMENTS = 5000  # users per BATCH_CREATE (docs/integrations/linkedin.md, "Limits")
REQUESTS_PER_SECOND = 10.0  # 600 a minute per member token on /dmpSegments/{id}/users
DEFAULT_VERSION = "202609"


@dataclass(frozen=True)
class LinkedInSettings:
    api_url: str = "https://api.linkedin.com/rest"
    oauth_url: str = "https://www.linkedin.com/oauth/v2"
    client_id: str = ""
    version: str = DEFAULT_VERSION  # the LinkedIn-Version header
    source_platform: str = ""  # sourcePlatform of the segments this service creates (LinkedInSourcePlatform)
    max_elements: int = MAX_ELEMENTS
    requests_per_second: float = REQUESTS_PER_SECOND
    retry_horizon_seconds: int = DEFAULT_HORIZON_SECONDS
