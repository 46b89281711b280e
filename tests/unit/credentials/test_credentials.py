"""REST API keys and data import keys: shown once, stored as hashes, checked on every request, revoked within 5 s."""

from __future__ import annotations

import pytest

from audience_sync.core.errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from audience_sync.credentials import secrets
from audience_sync.credentials.models import DATA_IMPORT_KEY, REST_API_KEY, NewApiKey, NewImportKey
from audience_sync.credentials.ratelimit import WINDOW_SECONDS, count_request
from audience_sync.credentials.service import CACHE_SECONDS, Credentials
from tests.fakes.credential_fakes import FakeCredentialStore, FakeRequestCounter
from tests.fakes.sync_fakes import FakeClock


def credentials() -> tuple[Credentials, FakeCredentialStore, FakeClock]:
    store, clock = FakeCredentialStore(), FakeClock()
    return Credentials(store, clock), store, clock


def test_a_key_is_shown_once_and_stored_only_as_its_hash() -> None:
    service, store, _ = credentials()
    created = service.create_api_key(NewApiKey(name="segment", permissions=["users.track", "users.track"]))
    key = str(created["key"])
    (stored,) = store.keys.values()
    assert stored.key_hash == secrets.key_hash(key) and key not in repr(stored)
    assert created["permissions"] == ["users.track"]
    listed = service.list(REST_API_KEY)
    assert listed == [{k: v for k, v in created.items() if k != "key"}]
    assert service.api_key(f"Bearer {key}").id == created["id"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer nothing-like-ours", "bearer x.y"])
def test_missing_or_malformed_keys_are_unauthorized(header: str | None) -> None:
    service, _, _ = credentials()
    with pytest.raises(Unauthorized, match="Invalid API Key"):
        service.api_key(header)


def test_a_key_with_a_wrong_secret_is_unauthorized_even_when_its_id_is_known_and_cached() -> None:
    service, _, _ = credentials()
    key = str(service.create_api_key(NewApiKey(name="k", permissions=["users.track"]))["key"])
    service.api_key(f"Bearer {key}")
    forged = key.split(".", maxsplit=1)[0] + ".forged-secret"
    with pytest.raises(Unauthorized):
        service.api_key(f"Bearer {forged}")


def test_a_revoked_key_is_refused_within_five_seconds_and_reads_are_cached_until_then() -> None:
    service, store, clock = credentials()
    created = service.create_api_key(NewApiKey(name="k", permissions=["users.track"]))
    header = f"Bearer {created['key']}"
    service.api_key(header)
    service.api_key(header)
    assert store.reads == 1  # the second check came from the instance's memory
    # Another instance (the management API) revokes it; this one still knows it, for less than 5 s.
    Credentials(store, clock).revoke(REST_API_KEY, str(created["id"]))
    clock.now += int(CACHE_SECONDS * 1000)
    assert CACHE_SECONDS < 5
    with pytest.raises(Unauthorized):
        service.api_key(header)
    with pytest.raises(NotFound):
        service.revoke(REST_API_KEY, str(created["id"]))


def test_a_key_without_the_routes_permission_is_forbidden() -> None:
    service, _, _ = credentials()
    key = service.api_key(f"Bearer {service.create_api_key(NewApiKey(name='k', permissions=['users.track']))['key']}")
    service.require(key, "users.track")
    with pytest.raises(Forbidden, match="Access Denied"):
        service.require(key, "users.delete")


def test_an_unknown_permission_is_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="permissions"):
        NewApiKey.model_validate({"name": "k", "permissions": ["users.everything"]})


def test_a_data_import_key_is_checked_against_its_partner() -> None:
    service, _, _ = credentials()
    created = service.create_import_key(NewImportKey(partner="segment"))
    secret = str(created["client_secret"])
    assert service.import_key("segment", secret).id == created["id"]
    assert service.list(DATA_IMPORT_KEY) == [
        {"id": created["id"], "created_at": created["created_at"], "partner": "segment"}
    ]
    for partner, candidate in (("amplitude", secret), ("segment", secret + "x"), ("segment", None)):
        with pytest.raises(Unauthorized, match="Invalid client secret"):
            service.import_key(partner, candidate)


def test_requests_are_counted_per_key_and_minute_and_the_one_over_gets_429_with_retry_after() -> None:
    counter, now = FakeRequestCounter(), (1_790_000_000 // 60 * 60 + 10) * 1000  # 10 s into a minute
    states = [count_request(counter, "k", 3, now) for _ in range(3)]
    assert [s.remaining for s in states] == [2, 1, 0]
    assert states[0].headers()["X-RateLimit-Reset"] == str((now // 1000 // WINDOW_SECONDS + 1) * WINDOW_SECONDS)
    with pytest.raises(TooManyRequests) as over:
        count_request(counter, "k", 3, now)
    assert over.value.retry_after_seconds == 50
    assert count_request(counter, "other", 3, now).remaining == 2  # another key has its own count
    assert count_request(counter, "k", 3, now + 60_000).remaining == 2  # the next minute starts afresh
    assert all(expiry > now // 1000 for expiry in counter.expiries.values())
