"""campaigns/service.py: draft → active → stopped; publishing checks what the campaign refers to, all at once."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.campaigns.exceptions import PublishInvalid
from audience_sync.campaigns.models import CampaignRequest
from audience_sync.campaigns.service import CampaignService
from audience_sync.core.errors import Conflict, Invalid, NotFound
from tests.fakes.campaign_fakes import FakeCampaignStore
from tests.fakes.sync_fakes import FakeClock

WEBHOOK = {"channel": "webhook", "url": "https://example.com/hook", "body": "{{${user_id}}}"}


class Segments:
    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)

    def get(self, segment_id: str) -> dict[str, Any] | None:
        return {"segment_id": segment_id} if segment_id in self.ids else None


class Steps:
    def __init__(self, **configs: dict[str, Any]) -> None:
        self.configs = configs

    def get(self, step_id: str) -> dict[str, Any]:
        if step_id not in self.configs:
            raise NotFound("step", "step_not_found")
        return {"step_id": step_id, "config": self.configs[step_id]}


def service(segments: Segments | None = None, steps: Steps | None = None) -> tuple[CampaignService, FakeClock]:
    clock = FakeClock()
    return CampaignService(FakeCampaignStore(), segments or Segments(), steps or Steps(), clock), clock  # type: ignore[arg-type]


def request(**fields: Any) -> CampaignRequest:
    return CampaignRequest.model_validate({"name": "C", "message": WEBHOOK, "delivery": {"type": "api"}, **fields})


def test_a_campaign_is_a_draft_until_published_then_active_until_stopped() -> None:
    campaigns, clock = service()
    created = campaigns.put("c1", request())
    assert (created["status"], created["published_at"], created["message"]["method"]) == ("draft", None, "POST")
    clock.sleep(1)
    published = campaigns.publish("c1")
    assert published["status"] == "active" and published["published_at"] > created["created_at"]
    clock.sleep(1)
    assert campaigns.publish("c1")["published_at"] == published["published_at"]  # again: nothing moves
    edited = campaigns.put("c1", request(name="C, edited"))
    assert (edited["status"], edited["name"], edited["published_at"]) == (
        "active",
        "C, edited",
        published["published_at"],
    )
    stopped = campaigns.stop("c1")
    assert stopped["status"] == "stopped" and stopped["stopped_at"] is not None
    assert campaigns.stop("c1") == stopped
    clock.sleep(1)
    again = campaigns.publish("c1")  # interactions before this moment no longer trigger it
    assert again["status"] == "active" and again["published_at"] > published["published_at"]
    assert again["stopped_at"] is None  # published again: no longer stopped


def test_a_draft_cannot_be_stopped_and_unknown_or_bad_ids_are_told_apart() -> None:
    campaigns, _ = service()
    campaigns.put("c1", request())
    with pytest.raises(Conflict):
        campaigns.stop("c1")
    with pytest.raises(NotFound):
        campaigns.get("nope")
    with pytest.raises(Invalid):
        campaigns.get("bad id!")


def test_publishing_lists_every_missing_or_unusable_reference() -> None:
    campaigns, _ = service(Segments("buyers"), Steps(webhook={}, follows={"source": {"type": "segment"}}))
    campaigns.put(
        "c1",
        request(
            audience={"segment_id": "gone"},
            message={"channel": "audience_sync", "step_id": "follows"},
            delivery={"type": "action", "trigger": {"interaction": {"campaign_id": "c0", "type": "email_opened"}}},
        ),
    )
    with pytest.raises(PublishInvalid) as refused:
        campaigns.publish("c1")
    assert [p["code"] for p in refused.value.details] == [
        "segment_not_found",
        "step_follows_a_segment",
        "campaign_not_found",
    ]
    assert campaigns.get("c1")["status"] == "draft"  # nothing moved
    campaigns.put("c0", request())
    campaigns.put(
        "c1",
        request(
            audience={"segment_id": "buyers"},
            message={"channel": "audience_sync", "step_id": "webhook"},
            delivery={"type": "action", "trigger": {"interaction": {"campaign_id": "c0", "type": "email_opened"}}},
        ),
    )
    assert campaigns.publish("c1")["status"] == "active"


def test_a_campaign_is_not_triggered_by_its_own_interactions() -> None:
    campaigns, _ = service()
    looping = request(
        delivery={"type": "action", "trigger": {"interaction": {"campaign_id": "c1", "type": "received_webhook"}}}
    )
    with pytest.raises(Invalid, match="itself"):
        campaigns.put("c1", looping)
    assert campaigns.put("c2", looping)["status"] == "draft"  # another campaign may follow c1's


def test_brazes_catalogue_pages_by_creation_and_details_a_campaign() -> None:
    campaigns, clock = service()
    for n in range(3):
        campaigns.put(f"c{n}", request(name=f"C{n}"))
        clock.sleep(1)
    assert [c["id"] for c in campaigns.braze_list(0, "desc")["campaigns"]] == ["c2", "c1", "c0"]
    assert campaigns.braze_list(1, "asc")["campaigns"] == []
    with pytest.raises(Invalid):
        campaigns.braze_list(0, "sideways")
    campaigns.publish("c1")
    details = campaigns.braze_details("c1")
    assert (details["draft"], details["enabled"], details["channels"]) == (False, True, ["webhook"])
    assert details["messages"]["c1.message"]["type"] == "raw_text"
    with pytest.raises(Invalid):
        campaigns.braze_details(None)
    with pytest.raises(NotFound):
        campaigns.braze_details("nope")


def test_an_active_campaign_is_saved_only_with_what_it_refers_to_and_a_race_to_stop_is_no_conflict() -> None:
    campaigns, _ = service(Segments("gold"))
    campaigns.put("c1", request(audience={"segment_id": "gold"}))
    campaigns.publish("c1")
    with pytest.raises(PublishInvalid) as refused:
        campaigns.put("c1", request(audience={"segment_id": "gone"}))
    assert [p["code"] for p in refused.value.details] == ["segment_not_found"]
    assert campaigns.get("c1")["audience"] == {"segment_id": "gold"}  # nothing stored
    campaigns.put("c2", request(audience={"segment_id": "step:s1"}))
    with pytest.raises(PublishInvalid) as internal:
        campaigns.publish("c2")
    assert [p["code"] for p in internal.value.details] == ["invalid_segment_id"]
    store = campaigns.store
    real = store.set_status

    def stopped_meanwhile(*args: Any) -> Any:
        real(*args)  # another request stops it first
        return None

    store.set_status = stopped_meanwhile  # type: ignore[method-assign,assignment]
    assert campaigns.stop("c1")["status"] == "stopped"


def follows(source: str, kind: str = "received_webhook", reeligible: int | None = 0) -> CampaignRequest:
    delivery = {"type": "action", "trigger": {"interaction": {"campaign_id": source, "type": kind}}}
    return request(delivery={**delivery, "reeligible_after_seconds": reeligible})


def test_campaigns_that_would_trigger_each_other_for_ever_are_not_published() -> None:
    campaigns, _ = service()
    campaigns.put("a", follows("b"))
    campaigns.put("b", follows("c", "enrolled_in_control_group"))
    campaigns.put("c", follows("a"))
    for campaign_id in ("a", "b"):  # drafts: nothing is checked until they are published
        campaigns.publish(campaign_id)
    with pytest.raises(PublishInvalid) as refused:
        campaigns.publish("c")  # a -> b -> c -> a, each sending on the others' sends, each user again and again
    assert [p["code"] for p in refused.value.details] == ["trigger_loop"]
    with pytest.raises(PublishInvalid):
        campaigns.put("b", follows("a"))  # an active campaign saved into a loop (a <-> b, both active)
    assert campaigns.put("b", follows("c"))["status"] == "active"  # c is a draft: it sends nothing


def test_a_loop_that_lets_each_user_through_once_or_waits_for_people_is_allowed() -> None:
    campaigns, _ = service()
    campaigns.put("a", follows("b", reeligible=None))  # once a user: the loop ends
    campaigns.put("b", follows("a"))
    campaigns.put("c", follows("d", "email_opened"))  # opened by people, not by our sends
    campaigns.put("d", follows("c"))
    for campaign_id in ("a", "b", "c", "d"):
        assert campaigns.publish(campaign_id)["status"] == "active"


def test_a_listed_campaign_holds_no_template_nor_property_filter_but_says_how_it_is_sent() -> None:
    from audience_sync.campaigns.service import summary

    delivery = {
        "type": "action",
        "trigger": {"custom_event": "ordered", "property_filters": [{"property": "p", "op": "eq", "value": "x" * 900}]},
        "delay_seconds": 60,
        "exceptions": [{"custom_event": "refunded"}, {"purchase": "*"}],
    }
    message = {"channel": "webhook", "url": "https://h.example/{{${user_id}}}", "method": "PUT", "body": "big"}
    stored: dict[str, Any] = {
        "campaign_id": "c1",
        "status": "active",
        "definition": {"name": "C", "message": message, "delivery": delivery},
        "created_at": "t0",
        "updated_at": "t1",
        "published_at": "t1",
    }
    listed = summary(stored)
    assert listed["message"] == {"channel": "webhook", "method": "PUT"}
    assert listed["delivery"] == {
        "type": "action",
        "trigger": {"custom_event": "ordered"},
        "delay_seconds": 60,
        "exceptions": 2,
    }
    assert (listed["campaign_id"], listed["name"], listed["status"], listed["stopped_at"]) == (
        "c1",
        "C",
        "active",
        None,
    )
    assert stored["definition"]["delivery"]["exceptions"][0] == {"custom_event": "refunded"}  # the stored one intact
