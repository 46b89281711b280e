"""Campaign benchmarks (issue 14): planning webhook sends on one core; trigger → webhook latency at light load.

"Planning" is what `POST /v1/campaigns/{id}/trigger` does per recipient once its profile is read
(campaigns/delivery.py `plan`): check the audience segment, draw the control group, render url, headers and body
with Liquid for the user (Braze's tags, a custom attribute, trigger properties, the dispatch_id), and cut the
queued webhooks into sync-queue messages (`message_bodies`, JSON). The campaign is the Lytics webhook of
docs/integrations/lytics.md (12 fields from the profile) with a templated url and header, an audience every user is
in, and a 10 % control group; calls of 50 recipients (the API's most). Reading profiles (DynamoDB) is not CPU of
this process and is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.hot_path import one_core
from bench.latency import LatencyResult

RECIPIENTS_PER_CALL = 50
PROFILES = 1_000
LYTICS_BODY = (
    '{"city": "{{${city}}}", "country": "{{${country}}}", "first_name": "{{${first_name}}}", '
    '"gender": "{{${gender}}}", "language": "{{${language}}}", "last_name": "{{${last_name}}}", '
    '"date_of_birth": "{{${date_of_birth} | remove: \'-\'}}", "phone_number": "{{${phone_number}}}", '
    '"time_zone": "{{${time_zone}}}", "twitter_handle": "{{custom_attribute.${twitter_handle}}}", '
    '"email": "{{${email_address}}}", "braze_id": "{{${braze_id}}}", '
    '"coupon": "{{api_trigger_properties.${coupon} | default: \'none\'}}", "dispatch": "{{campaign.${dispatch_id}}}"}'
)


@dataclass(frozen=True)
class PlanningResult:
    sends: int
    seconds: float  # CPU seconds
    queued: int  # webhooks queued (the rest: the control group)
    messages: int  # sync-queue messages they fill
    core: int | None

    @property
    def per_second(self) -> float:
        return self.sends / self.seconds


def _stored() -> dict[str, Any]:
    return {
        "campaign_id": "lytics",
        "status": "active",
        "updated_at": "2026-12-06T00:00:00.000Z",
        "definition": {
            "name": "Profiles to Lytics",
            "message": {
                "channel": "webhook",
                "url": "https://api.lytics.io/c/acct/braze_users?key={{custom_attribute.${lytics_token}}}",
                "headers": {"Content-Type": "application/json", "X-Braze-Id": "{{${braze_id}}}"},
                "body": LYTICS_BODY,
            },
            "audience": {"segment_id": "gold"},
            "delivery": {"type": "api"},
            "control_group_percent": 10,
            "rate_limit_per_minute": 60_000,
        },
    }


def _profile(n: int) -> dict[str, Any]:
    return {
        "braze_id": f"{n:024x}",
        "external_id": f"user-{n}",
        "fields": {
            "first_name": f"First{n}",
            "last_name": f"Last{n}",
            "email": f"user{n}@example.com",
            "phone": f"555{n:07d}",
            "home_city": "AnyTown",
            "country": "US",
            "language": "en",
            "time_zone": "America/New_York",
            "gender": "F",
            "dob": "1982-01-01",
        },
        "custom": {"twitter_handle": f"@user{n}", "lytics_token": "tok", "plan": "gold", "score": n % 100},
        "segments": {"gold": "2026-12-01T00:00:00.000Z"},
    }


def measure(sends: int = 100_000, progress: Callable[[str], None] | None = None) -> PlanningResult:
    from audience_sync.campaigns.delivery import Send, load, plan
    from audience_sync.pipeline.chunking import message_bodies
    from audience_sync.pipeline.messages import QueuedMessage

    campaign = load(_stored())
    profiles = [_profile(n) for n in range(PROFILES)]
    queued = messages = 0
    with one_core() as core:
        started = time.process_time()
        for call in range(sends // RECIPIENTS_PER_CALL):
            dispatch_id = f"{call:032x}"
            first = (call * RECIPIENTS_PER_CALL) % PROFILES
            batch = [
                Send(profiles[(first + i) % PROFILES], dispatch_id, {"coupon": f"C{i}"})
                for i in range(RECIPIENTS_PER_CALL)
            ]
            result = plan(campaign, batch)
            template = QueuedMessage.model_construct(
                chunk_id=dispatch_id,
                ledger_bucket="",
                step_id="campaign#lytics",
                target=campaign.target,
                users=[],
                entry=result.counts.attributes(),
                correlation_id=None,
                first_enqueued_at=0,
            )
            bodies = message_bodies(template, result.queued, {"triggered": 1})
            queued += len(result.queued)
            messages += len(bodies)
        seconds = time.process_time() - started
    done = (sends // RECIPIENTS_PER_CALL) * RECIPIENTS_PER_CALL
    if progress:
        progress(f"campaign planning: {done:,} sends ({queued:,} queued) in {seconds:.2f} s CPU")
    return PlanningResult(done, seconds, queued, messages, core)


def measure_latency(
    triggers: int = 60,
    every_seconds: float = 0.5,
    flush_seconds: int = 5,
    progress: Callable[[str], None] | None = None,
) -> LatencyResult:
    """Trigger → webhook at light load: from `POST /v1/campaigns/{id}/trigger`'s 202 to the receiver getting the
    webhook, one recipient a call, local mode as `make run` runs it."""
    import requests

    from bench.receiver import webhook_receiver
    from bench.stack import bench_stack

    with bench_stack(flush_seconds=flush_seconds, log_level="WARNING") as stack, webhook_receiver() as receiver:
        session = requests.Session()
        _profiles_in(stack.url, stack.headers, session)
        campaign = {
            "name": "Latency",
            "message": {"channel": "webhook", "url": receiver.url + "/hook", "body": "{{api_trigger_properties.${n}}}"},
            "delivery": {"type": "api"},
        }
        base = f"{stack.url}/v1/campaigns/latency"
        session.put(base, json=campaign, headers=stack.headers, timeout=30).raise_for_status()
        session.post(base + "/publish", headers=stack.headers, timeout=30).raise_for_status()
        answered: dict[str, float] = {}
        started = time.monotonic()
        for n in range(triggers):
            body = {"recipients": [{"external_id": "latency-user", "trigger_properties": {"n": n}}]}
            session.post(base + "/trigger", json=body, headers=stack.headers, timeout=30).raise_for_status()
            answered[str(n)] = time.monotonic()
            if progress and n % 20 == 0:
                progress(f"campaign latency: trigger {n + 1}/{triggers}")
            time.sleep(max(0.0, started + (n + 1) * every_seconds - time.monotonic()))  # a steady light load
        deadline = time.monotonic() + flush_seconds + 30
        while len(receiver.received) < triggers and time.monotonic() < deadline:
            time.sleep(0.1)  # waiting for the last flush window to close
        arrived = {r.body: r.at for r in receiver.received}
    missing = sorted(set(answered) - set(arrived))
    if missing:
        raise RuntimeError(f"{len(missing)} triggered webhooks never reached the receiver")
    return LatencyResult([arrived[n] - at for n, at in answered.items()], flush_seconds)


def _profiles_in(url: str, headers: dict[str, str], session: Any) -> None:
    """The recipient's profile, written through the Braze-compatible API and read back once the writer wrote it."""
    made = session.post(
        f"{url}/v1/rest-api-keys",
        json={"name": "bench", "permissions": ["users.track", "users.export.ids"]},
        headers=headers,
        timeout=30,
    )
    made.raise_for_status()
    bearer = {"Authorization": f"Bearer {made.json()['key']}"}
    track = {"attributes": [{"external_id": "latency-user", "first_name": "Lat"}]}
    session.post(f"{url}/users/track", json=track, headers=bearer, timeout=30).raise_for_status()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = session.post(
            f"{url}/users/export/ids", json={"external_ids": ["latency-user"]}, headers=bearer, timeout=30
        )
        if found.ok and found.json().get("users"):
            return
        time.sleep(0.1)  # the profile writer runs behind its queue
    raise RuntimeError("the recipient's profile was never written")


@dataclass(frozen=True)
class WaitingCost:
    """$ per million users waiting out a campaign's delay, by the design of docs/decisions/0017 (EventBridge
    Scheduler, one one-time schedule a waiting user, and a wait item), against Step Functions' Standard waits."""

    exception_share: float  # of the waiting users, those an exception event cancels
    lines: dict[str, float]
    step_functions: float

    @property
    def total(self) -> float:
        return sum(self.lines.values())


# What CampaignActivityFunction spends a user (estimated from its calls at ~7 ms each on AWS, not measured there):
# a trigger's claim, the wait's transaction, CreateSchedule and the claim's finish (~30 ms); a due's consistent read,
# release transaction, campaign read, profile read, planning, SendMessage and delete (~25 ms, a batch of 10 sharing
# the reads and the send). The function has the stack's default 256 MB.
TRIGGER_MS_PER_USER = 30
DUE_MS_PER_USER = 25
FUNCTION_GB = 0.25
# DynamoDB write units a user, as built (adapters/aws/campaign_state.py). A transactional write costs 2 units an
# item, and a wait's writes carry the campaign's counters item: claim put 1 + finish 1 + the wait's transaction
# (put + counters) 4; when due: the release transaction 4 + the delete 1; when an exception cancels: the exception
# noted 1 + its transaction (delete + counters) 4. Reads (consistent, 1 unit each): the user's latest exception
# when the wait starts, and the wait item when it ends, either way.
RRU_PER_WAIT = 2
WRU_PER_WAIT = 6
WRU_PER_DUE = 5
WRU_PER_CANCEL = 5
SFN_TRANSITIONS_PER_WAIT = 4  # start, Wait, the task that sends, end


def waiting_cost(exception_share: float = 0.2) -> WaitingCost:
    from bench.prices import PRICES

    users = 1e6
    due = users * (1 - exception_share)
    gb_seconds = (users * TRIGGER_MS_PER_USER + due * DUE_MS_PER_USER) / 1000 * FUNCTION_GB
    lines = {
        # a schedule fires only for a user no exception cancelled (its schedule is deleted, for nothing)
        "EventBridge Scheduler invocations": PRICES["scheduler_invocations"].of(due),
        # the entry and the wait, with their counts (WRU_PER_*), and the wait read when it ends
        "DynamoDB (entries and waits)": PRICES["dynamodb_wru"].of(
            users * WRU_PER_WAIT + due * WRU_PER_DUE + (users - due) * WRU_PER_CANCEL
        )
        + PRICES["dynamodb_rru"].of(users * RRU_PER_WAIT),
        # the activity, sent in tens by its producer; the due, sent by its schedule; each received and deleted in tens
        "SQS (campaign activity queue)": PRICES["sqs_requests"].of(users * 0.3 + due * 1.2),
        "Lambda (CampaignActivityFunction)": PRICES["lambda_gb_seconds_arm64"].of(gb_seconds)
        + PRICES["lambda_requests"].of((users + due) / 10),
    }
    step_functions = PRICES["sfn_transitions"].of(users * SFN_TRANSITIONS_PER_WAIT)
    return WaitingCost(exception_share, lines, step_functions)
