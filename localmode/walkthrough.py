"""The curl walk-through printed when local mode starts (the README shows the same steps)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from localmode.service import LocalConfig

STEP = (
    '{"partner":"linkedin","ad_account_id":"507000001","audience":{"name":"Welcome series"},"action":"add",'
    '"match_fields":["email","first_last_name"],'
    '"entry_filters":[{"attribute":"ad_tracking_enabled","op":"eq","value":true}],"last_step":false}'
)
USERS = (
    '{"users":['
    '{"external_id":"u-1","email":" Ana.Ruiz@Example.com ","first_name":"Ana","last_name":"Ruiz",'
    '"ad_tracking_enabled":true},'
    '{"external_id":"u-2","email":"bo@example.com","ad_tracking_enabled":false},'
    '{"external_id":"u-3","ad_tracking_enabled":true}],'
    '"idempotency_key":"evt-0001"}'
)


KEY_REQUEST = '{"name":"demo","permissions":["users.track","users.export.ids"]}'
TRACK = (
    '{"attributes":[{"external_id":"u-1","first_name":"Ana","visits":{"inc":1},"segments":{"add":["vip"]}}],'
    '"events":[{"external_id":"u-1","name":"Order Completed","time":"2026-12-01T10:00:00Z"}]}'
)
PROFILE_STEPS = [
    "  # 6. profiles through the Braze-compatible API (what Segment, Lytics and BlueConic send): a REST API key,",
    "  #    a write, and ~1 s later the profile",
    f"  BRAZE=$(curl -s -X POST -H \"x-api-key: $KEY\" $API/v1/rest-api-keys -d '{KEY_REQUEST}'"
    " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"key\"])')",
    f"  curl -s -X POST -H \"Authorization: Bearer $BRAZE\" $API/users/track -d '{TRACK}'",
    '  curl -s -X POST -H "Authorization: Bearer $BRAZE" $API/users/export/ids -d \'{"external_ids":["u-1"]}\'',
]


def cohort_steps(partner_api_key: str) -> list[str]:
    """Step 7: a partner's audience through the cohort import (docs/api.md, "Partner cohort import")."""
    credentials = f'"partner_api_key":"{partner_api_key}","client_secret":"\'$SECRET\'"'
    return [
        "  # 7. a partner's audience (Segment Engage's \"Braze Cohorts\"): a data import key, the cohort, its members",
        "  #    (u-404 names no user: ignored and counted), and ~1 s later the cohort",
        '  SECRET=$(curl -s -X POST -H "x-api-key: $KEY" $API/v1/data-import-keys -d \'{"partner":"segment"}\''
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"client_secret\"])')",
        f"  curl -s -X POST $API/partners/segment/cohorts -d '{{{credentials},"
        '"cohort_id":"vip","name":"VIP","created_at":"2026-12-05T10:00:00Z"}\'',
        f"  curl -s -X POST $API/partners/segment/cohorts/users -d '{{{credentials},"
        '"cohort_id":"vip","cohort_changes":[{"user_ids":["u-1","u-404"]}]}\'',
        '  curl -s -H "x-api-key: $KEY" $API/v1/cohorts',
    ]


SEGMENT = (
    '{"name":"VIP buyers","filter":{"all":[{"cohort":{"partner":"segment","cohort_id":"vip"},"op":"in"},'
    '{"custom_event":"Order Completed","op":"more_than","count":0}]}}'
)
SEGMENT_STEPS = [
    "  # 8. a segment on that cohort and an event (docs/segments.md): existing profiles are swept in, later writes",
    "  #    move users in and out as they happen; ~3 s later its members (u-1, after steps 6 and 7) and size",
    f"  curl -s -X PUT -H \"x-api-key: $KEY\" $API/v1/segments/vip-buyers -d '{SEGMENT}'",
    '  curl -s -H "x-api-key: $KEY" $API/v1/segments/vip-buyers/members',
    '  curl -s -H "x-api-key: $KEY" $API/v1/segments/vip-buyers',
]


EXPORT_STEPS = [
    "  # 11. the segment exported as CSV (docs/exports.md): ~2 s later the export is done, and its link downloads",
    "  #     from this machine",
    '  EXPORT=$(curl -s -X POST -H "x-api-key: $KEY" $API/v1/segments/vip-buyers/exports -d '
    '\'{"format":"csv","fields":["email","first_name"]}\' | python3 -c \'import json,sys; '
    'print(json.load(sys.stdin)["export_id"])\')',
    '  curl -s -H "x-api-key: $KEY" $API/v1/exports/$EXPORT',
    '  curl -s "$(curl -s -H "x-api-key: $KEY" $API/v1/exports/$EXPORT | python3 -c \'import json,sys; '
    'print(json.load(sys.stdin)["url"])\')"',
]


_POST = f"  curl -s -X POST -H \"x-api-key: $KEY\" $API/v1/steps/welcome/users -d '{USERS}'"


CAMPAIGN = (
    '{"name":"Welcome webhook","message":{"channel":"webhook","url":"\'$HOOK\'/welcome/{{${user_id}}}",'
    '"headers":{"Content-Type":"application/json"},'
    '"body":"{\\"first_name\\": \\"{{${first_name} | default: \\u0027friend\\u0027}}\\", '
    '\\"coupon\\": \\"{{api_trigger_properties.${coupon}}}\\"}"},"delivery":{"type":"api"}}'
)


def campaign_steps(flush_seconds: int) -> list[str]:
    """Step 9: a webhook campaign to a receiver on this machine."""
    return [
        "  # 9. a webhook campaign (docs/campaigns.md): a receiver on this machine (local mode lets webhooks reach",
        "  #    127.0.0.1; on AWS never), the campaign, a trigger, and",
        f"  #    ~{flush_seconds + 1} s later what the receiver got and the campaign's metrics",
        "  .venv/bin/python -m bench.receiver > /tmp/receiver.url & RECEIVER=$!;"
        " sleep 1; HOOK=$(head -1 /tmp/receiver.url)",
        f"  curl -s -X PUT -H \"x-api-key: $KEY\" $API/v1/campaigns/welcome-hook -d '{CAMPAIGN}'",
        '  curl -s -X POST -H "x-api-key: $KEY" $API/v1/campaigns/welcome-hook/publish',
        '  curl -s -X POST -H "x-api-key: $KEY" $API/v1/campaigns/welcome-hook/trigger'
        ' -d \'{"recipients":[{"external_id":"u-1","trigger_properties":{"coupon":"WELCOME10"}}]}\'',
        "  curl -s $HOOK/_received/last",
        '  curl -s -H "x-api-key: $KEY" $API/v1/campaigns/welcome-hook/metrics',
    ]


FOLLOW_UP = (
    '{"name":"Thanks for ordering","message":{"channel":"webhook","url":"\'$HOOK\'/thanks/{{${user_id}}}",'
    '"body":"{\\"total\\": {{event_properties.${total}}}}"},'
    '"delivery":{"type":"action","trigger":{"custom_event":"Order Completed",'
    '"property_filters":[{"property":"total","op":"gt","value":50}]},'
    '"delay_seconds":10,"exceptions":[{"custom_event":"Order Refunded"}]}}'
)
ORDER = (
    '{"events":[{"external_id":"u-1","name":"Order Completed","time":"2100-01-01T00:00:00Z",'
    '"properties":{"total":80}}]}'
)


def follow_up_steps(flush_seconds: int, time_scale: float) -> list[str]:
    """Step 10: an action-based campaign, its delay waiting as a one-time schedule."""
    wait = 10 / time_scale
    return [
        '  # 10. an action-based campaign (docs/campaigns.md, "Action-based delivery"): 10 s after an order over 50,',
        "  #     unless it is refunded meanwhile; the event (a time in the future is taken as now); ~2 s later the",
        "  #     metrics while u-1 waits (scheduled 1); and",
        f"  #     ~{wait + flush_seconds + 2:.0f} s later what the receiver got (and the metrics again: delivered 1)",
        f"  curl -s -X PUT -H \"x-api-key: $KEY\" $API/v1/campaigns/order-thanks -d '{FOLLOW_UP}'",
        '  curl -s -X POST -H "x-api-key: $KEY" $API/v1/campaigns/order-thanks/publish',
        f"  curl -s -X POST -H \"Authorization: Bearer $BRAZE\" $API/users/track -d '{ORDER}'",
        '  curl -s -H "x-api-key: $KEY" $API/v1/campaigns/order-thanks/metrics',
        "  curl -s $HOOK/_received/last",
        "  kill $RECEIVER  # the receiver of steps 9 and 10",
    ]


def _signed_post() -> list[str]:
    """WEBHOOK_SIGNING_SECRET is set: the webhook carries X-Signature (docs/api.md, "Signed webhooks")."""
    return [
        "  #    (WEBHOOK_SIGNING_SECRET is set: sign each request, t = now, v1 = HMAC-SHA256 of t.step_id.body)",
        f"  BODY='{USERS}'; T=$(date +%s)",
        '  SIG=$(printf \'%s\' "$T.welcome.$BODY" | openssl dgst -sha256 -hmac "$WEBHOOK_SIGNING_SECRET" -r'
        " | cut -d' ' -f1)",
        '  curl -s -X POST -H "x-api-key: $KEY" -H "X-Signature: t=$T,v1=$SIG" $API/v1/steps/welcome/users'
        ' --data-binary "$BODY"',
    ]


def walkthrough(base_url: str, config: LocalConfig, sandbox: bool) -> str:
    horizon = int(os.environ.get("RETRY_HORIZON_SECONDS", "46800"))  # exported from the template by provision
    linkedin = f"{base_url}/linkedin (built-in sandbox)" if sandbox else str(config.linkedin_api_url)
    lines = [
        "",
        "Audience sync is running locally: AWS emulated in-process (moto), handlers wired from template.yaml.",
        f"  API       {base_url}   (header x-api-key: {config.api_key})",
        f"  Console   {base_url}/console   (sign in with the key {config.api_key})",
        f"  LinkedIn  {linkedin}",
        f"  Batching  every {config.flush_seconds} s; TIME_SCALE={config.time_scale:g} "
        f"(the retry horizon, {horizon / 3600:g} h, takes {horizon / config.time_scale:,.0f} s)"
        + (f"; CHAOS_CRASH_PROBABILITY={config.chaos_crash_probability:g}" if config.chaos_crash_probability else ""),
        "",
        "Walk-through (copy and paste):",
        f"  export API={base_url} KEY={config.api_key}",
        '  curl -s -H "x-api-key: $KEY" $API/v1/health',
        "  # 1. connect LinkedIn (the sandbox approves at once; -L follows LinkedIn's redirect back to the callback)",
        '  curl -s -L -H "x-api-key: $KEY" $API/v1/connections/linkedin/authorize',
        '  curl -s -H "x-api-key: $KEY" $API/v1/connections/linkedin',
        "  # 2. configure a sync step, then launch it (creates the LinkedIn audience)",
        f"  curl -s -X PUT -H \"x-api-key: $KEY\" $API/v1/steps/welcome -d '{STEP}'",
        '  curl -s -X POST -H "x-api-key: $KEY" $API/v1/steps/welcome/launch',
        "  # 3. users enter the step: u-1 is synced, u-2 is filtered out, u-3 has no match field",
        *(_signed_post() if config.webhook_signing_secret else [_POST]),
        f"  # 4. after ~{config.flush_seconds + 1} s: the step's metrics, and the audience as LinkedIn sees it",
        '  curl -s -H "x-api-key: $KEY" $API/v1/steps/welcome/metrics',
        '  curl -s -H "x-api-key: $KEY" $API/v1/steps/welcome/audience',
    ]
    if sandbox:
        lines.append("  curl -s $API/linkedin/_sandbox/segments")
        lines += [
            "  # 5. make LinkedIn throttle 40 % of requests: those users wait in the Step Functions retry, then sync",
            '  curl -s -X POST $API/linkedin/_sandbox/faults -d \'{"status":429,"probability":0.4}\'',
        ]
    lines += PROFILE_STEPS
    lines += cohort_steps(config.partner_api_key)
    lines += SEGMENT_STEPS
    lines += campaign_steps(config.flush_seconds)
    lines += follow_up_steps(config.flush_seconds, config.time_scale)
    lines += EXPORT_STEPS
    port = urlsplit(base_url).port
    cli = ("" if port == 3000 else f"PORT={port} ") + ".venv/bin/audience-sync --local"
    lines += [
        "",
        "Operator CLI: connection, steps, step ID, metrics [ID], dlq [redrive], retries (add --json for JSON)",
        f"  {cli} metrics",
    ]
    lines += ["", "Stop with Ctrl-C.", ""]
    return "\n".join(lines)
