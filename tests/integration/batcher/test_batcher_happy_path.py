"""One step, three users with one match field each: what LinkedIn holds, what it was sent, what we count.
Also: an unreadable SQS record is reported, and the others in the batch are still synced."""

from __future__ import annotations

import json

from tests.integration.batcher.batcher_support import Harness, email_member, email_user, template_linkedin_version

GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
# sha256("ana.ruiz@example.com"): the email is trimmed and lower-cased before hashing
ANA_SHA256 = "539dba384e7bad34cfe11197def7787e078172956b42bdfbb3e529537d6e0267"


def test_three_users_reach_the_segment_with_the_right_ids(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("happy")
    accepted = h.post_users(
        "happy",
        [
            {"external_id": "e", "email": "  Ana.Ruiz@Example.COM "},
            {"external_id": "n", "first_name": " Bo ", "last_name": "Lee"},
            {"external_id": "g", "android_gaid": GAID},
        ],
    )
    assert accepted == {"accepted": 3, "filtered": 0, "not_synced": 0}
    assert h.metrics("happy")["entered"] == 0  # the counts travel with the users: recorded by the batcher

    delivered, failed = h.sync_once()

    assert delivered == 1
    assert failed == []
    assert sorted(h.members(audience_id), key=repr) == sorted(
        [
            {"userIds": [{"idType": "SHA256_EMAIL", "idValue": ANA_SHA256}]},
            {"userIds": [], "firstName": "Bo", "lastName": "Lee"},
            {"userIds": [{"idType": "GOOGLE_AID", "idValue": GAID}]},
        ],
        key=repr,
    )
    assert h.metrics("happy") == {
        "entered": 3,
        "proceeded": 3,
        "synced": 3,
        "not_synced": 0,
        "pending": 0,
        "errored": 0,
        "exited": 0,
    }
    (request,) = h.user_requests()
    assert request["path"] == f"/rest/dmpSegments/{audience_id}/users"
    assert request["status"] == 200
    assert request["elements"] == 3
    assert request["linkedin_version"] == template_linkedin_version() == "202609"
    assert request["restli_protocol_version"] == "2.0.0"
    assert request["restli_method"] == "BATCH_CREATE"
    assert h.queue_counts() == {
        "ApproximateNumberOfMessages": 0,
        "ApproximateNumberOfMessagesNotVisible": 0,
        "ApproximateNumberOfMessagesDelayed": 0,
    }


def test_unreadable_records_are_reported_and_the_rest_is_synced(connected: Harness) -> None:
    h = connected
    audience_id = h.create_step("mixed")
    h.post_users("mixed", [email_user(1), email_user(2)])
    good = h.drain()
    assert len(good) == 1
    valid_but_wrong = json.dumps({"v": 1, "step_id": "mixed"})  # JSON, but not a sync message
    bad = [h.record("{not json", "bad-json"), h.record(valid_but_wrong, "bad-shape")]
    no_body = {k: v for k, v in h.record("", "no-body").items() if k != "body"}

    failed = h.invoke_batcher([bad[0], *good, bad[1], no_body])

    assert sorted(failed) == ["bad-json", "bad-shape", "no-body"]
    assert sorted(h.members(audience_id), key=repr) == sorted([email_member(1), email_member(2)], key=repr)
    metrics = h.metrics("mixed")
    assert (metrics["entered"], metrics["synced"], metrics["pending"], metrics["errored"]) == (2, 2, 0, 0)
